/**
 * `$filter`: a tokenizer, a recursive-descent parser that type-checks as it goes, and an evaluator over one row.
 *
 * The grammar and precedence are OData 4's (part 2, §5.1.1): grouping, then function calls, then unary `not`, then
 * `gt ge lt le`, then `eq ne`, then `and`, then `or`. So `not Name eq 'x'` is `(not Name) eq 'x'` and fails the type
 * check, exactly as on Creatio; write `not (Name eq 'x')`. Error messages follow the wording of Microsoft's OData
 * library (which Creatio uses), with the position counted from 0, so a client that is tested here sees what it
 * will see there.
 */
import type { EdmType, EntityDefinition, EntityRow } from './entities.ts';
import { ODataError } from './errors.ts';

export type FilterType = EdmType | 'Edm.Boolean' | 'Edm.Int32' | 'Edm.Decimal' | 'null';
export type FilterValue = string | number | boolean | null;

export type ComparisonOperator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
/** How two operands of compatible types are ordered: text ignores case (as Creatio's databases do). */
export type ComparisonMode = 'text' | 'ordinal' | 'number' | 'boolean';

export type FilterExpression =
  | { readonly kind: 'literal'; readonly type: FilterType; readonly value: FilterValue }
  | { readonly kind: 'property'; readonly type: EdmType; readonly name: string }
  | {
      readonly kind: 'comparison';
      readonly type: 'Edm.Boolean';
      readonly operator: ComparisonOperator;
      readonly mode: ComparisonMode;
      readonly left: FilterExpression;
      readonly right: FilterExpression;
    }
  | {
      readonly kind: 'logical';
      readonly type: 'Edm.Boolean';
      readonly operator: 'and' | 'or';
      readonly left: FilterExpression;
      readonly right: FilterExpression;
    }
  | { readonly kind: 'not'; readonly type: 'Edm.Boolean'; readonly operand: FilterExpression }
  | {
      readonly kind: 'call';
      readonly type: FilterType;
      readonly name: FunctionName;
      readonly args: readonly FilterExpression[];
    };

// ---------------------------------------------------------------------------------------------------------------
// Functions: the string functions clients use for search boxes.

type FunctionName = 'contains' | 'startswith' | 'endswith' | 'tolower' | 'toupper' | 'trim' | 'length';

interface FunctionSignature {
  readonly parameters: readonly FilterType[];
  readonly returns: FilterType;
  readonly apply: (args: readonly FilterValue[]) => FilterValue;
}

function lower(value: unknown): string {
  return String(value).toLowerCase();
}

/** A null argument makes the result null (OData's null propagation); null is false where a boolean is needed. */
const functions: Readonly<Record<FunctionName, FunctionSignature>> = {
  contains: {
    parameters: ['Edm.String', 'Edm.String'],
    returns: 'Edm.Boolean',
    apply: ([a, b]) => lower(a).includes(lower(b)),
  },
  startswith: {
    parameters: ['Edm.String', 'Edm.String'],
    returns: 'Edm.Boolean',
    apply: ([a, b]) => lower(a).startsWith(lower(b)),
  },
  endswith: {
    parameters: ['Edm.String', 'Edm.String'],
    returns: 'Edm.Boolean',
    apply: ([a, b]) => lower(a).endsWith(lower(b)),
  },
  tolower: { parameters: ['Edm.String'], returns: 'Edm.String', apply: ([a]) => lower(a) },
  toupper: { parameters: ['Edm.String'], returns: 'Edm.String', apply: ([a]) => String(a).toUpperCase() },
  trim: { parameters: ['Edm.String'], returns: 'Edm.String', apply: ([a]) => String(a).trim() },
  length: { parameters: ['Edm.String'], returns: 'Edm.Int32', apply: ([a]) => String(a).length },
};

function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(functions, name);
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

type Token =
  | { readonly kind: 'string'; readonly value: string; readonly position: number }
  | { readonly kind: 'guid'; readonly value: string; readonly position: number }
  | { readonly kind: 'datetime'; readonly value: number; readonly position: number }
  | { readonly kind: 'number'; readonly value: number; readonly integer: boolean; readonly position: number }
  | { readonly kind: 'identifier'; readonly value: string; readonly position: number }
  | { readonly kind: '(' | ')' | ',' | 'end'; readonly position: number };

// Order matters: a GUID or a date can start with digits, so they are tried before numbers; a GUID can start with
// letters, so it is tried before identifiers. `(?![\w-])` keeps `12ab` or a 13-digit GUID tail from half-matching.
const guidToken = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w-])/iy;
const dateTimeToken = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})(?![\w-])/y;
const numberToken = /-?\d+(\.\d+)?(?:e[+-]?\d+)?(?![\w-])/iy;
const identifierToken = /[A-Za-z_][A-Za-z0-9_]*/y;

function matchAt(pattern: RegExp, text: string, position: number): RegExpExecArray | null {
  pattern.lastIndex = position;
  return pattern.exec(text);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  while (position < text.length) {
    const char = text[position] as string;
    if (/\s/.test(char)) {
      position++;
      continue;
    }
    if (char === '(' || char === ')' || char === ',') {
      tokens.push({ kind: char, position });
      position++;
      continue;
    }
    if (char === "'") {
      const { value, end } = readStringLiteral(text, position);
      tokens.push({ kind: 'string', value, position });
      position = end;
      continue;
    }
    let match = matchAt(guidToken, text, position);
    if (match) {
      tokens.push({ kind: 'guid', value: match[0].toLowerCase(), position });
      position += match[0].length;
      continue;
    }
    match = matchAt(dateTimeToken, text, position);
    if (match) {
      const value = Date.parse(match[0]);
      if (Number.isNaN(value)) {
        throw syntaxError(`The DateTimeOffset literal '${match[0]}' is not valid`, position, text);
      }
      tokens.push({ kind: 'datetime', value, position });
      position += match[0].length;
      continue;
    }
    match = matchAt(numberToken, text, position);
    if (match) {
      const integer = match[1] === undefined && !/e/i.test(match[0]);
      tokens.push({ kind: 'number', value: Number(match[0]), integer, position });
      position += match[0].length;
      continue;
    }
    match = matchAt(identifierToken, text, position);
    if (match) {
      tokens.push({ kind: 'identifier', value: match[0], position });
      position += match[0].length;
      continue;
    }
    throw new ODataError(
      400,
      `Syntax error: character '${char}' is not valid at position ${position} in '${text}'.`,
    );
  }
  tokens.push({ kind: 'end', position: text.length });
  return tokens;
}

/** A string literal is quoted with `'`; a quote inside it is written twice (`'O''Brien'`). */
function readStringLiteral(text: string, start: number): { value: string; end: number } {
  let value = '';
  let position = start + 1;
  while (position < text.length) {
    const char = text[position];
    if (char === "'") {
      if (text[position + 1] === "'") {
        value += "'";
        position += 2;
        continue;
      }
      return { value, end: position + 1 };
    }
    value += char;
    position++;
  }
  throw new ODataError(400, `There is an unterminated string literal at position ${start} in '${text}'.`);
}

function syntaxError(what: string, position: number, text: string): ODataError {
  return new ODataError(400, `${what} at position ${position} in '${text}'.`);
}

// ---------------------------------------------------------------------------------------------------------------
// Parser

const operatorKind: Readonly<Record<ComparisonOperator | 'and' | 'or', string>> = {
  eq: 'Equal',
  ne: 'NotEqual',
  gt: 'GreaterThan',
  ge: 'GreaterThanOrEqual',
  lt: 'LessThan',
  le: 'LessThanOrEqual',
  and: 'And',
  or: 'Or',
};

const numericTypes: ReadonlySet<FilterType> = new Set(['Edm.Int32', 'Edm.Decimal']);

/** The way two operand types compare, or undefined when OData would reject the pair. */
function comparisonMode(
  left: FilterType,
  right: FilterType,
  operator: ComparisonOperator,
): ComparisonMode | undefined {
  if (numericTypes.has(left) && numericTypes.has(right)) return 'number';
  const type = left === 'null' ? right : right === 'null' || left === right ? left : undefined;
  switch (type) {
    case 'Edm.String':
      return 'text';
    case 'Edm.Guid':
    case 'null':
      return 'ordinal';
    case 'Edm.DateTimeOffset':
    case 'Edm.Int32':
    case 'Edm.Decimal':
      return 'number';
    case 'Edm.Boolean':
      return operator === 'eq' || operator === 'ne' ? 'boolean' : undefined;
    default:
      return undefined;
  }
}

class FilterParser {
  readonly #text: string;
  readonly #entity: EntityDefinition;
  readonly #tokens: Token[];
  #index = 0;

  constructor(text: string, entity: EntityDefinition) {
    this.#text = text;
    this.#entity = entity;
    this.#tokens = tokenize(text);
  }

  parse(): FilterExpression {
    const expression = this.#parseOr();
    const rest = this.#peek();
    if (rest.kind !== 'end') throw syntaxError('Syntax error', rest.position, this.#text);
    if (expression.type !== 'Edm.Boolean') {
      throw new ODataError(400, 'The $filter expression must evaluate to a single boolean value.');
    }
    return expression;
  }

  #peek(): Token {
    return this.#tokens[this.#index] as Token;
  }

  #next(): Token {
    const token = this.#peek();
    if (token.kind !== 'end') this.#index++;
    return token;
  }

  #takeKeyword<K extends string>(keywords: readonly K[]): K | undefined {
    const token = this.#peek();
    if (token.kind === 'identifier' && (keywords as readonly string[]).includes(token.value)) {
      this.#index++;
      return token.value as K;
    }
    return undefined;
  }

  #parseOr(): FilterExpression {
    return this.#parseLogical('or', () => this.#parseAnd());
  }

  #parseAnd(): FilterExpression {
    return this.#parseLogical('and', () => this.#parseEquality());
  }

  #parseLogical(operator: 'and' | 'or', parseOperand: () => FilterExpression): FilterExpression {
    let left = parseOperand();
    while (this.#takeKeyword([operator])) {
      const right = parseOperand();
      if (left.type !== 'Edm.Boolean' || right.type !== 'Edm.Boolean') {
        throw incompatibleOperands(left.type, right.type, operator);
      }
      left = { kind: 'logical', type: 'Edm.Boolean', operator, left, right };
    }
    return left;
  }

  #parseEquality(): FilterExpression {
    return this.#parseComparison(['eq', 'ne'], () => this.#parseRelational());
  }

  #parseRelational(): FilterExpression {
    return this.#parseComparison(['gt', 'ge', 'lt', 'le'], () => this.#parseUnary());
  }

  #parseComparison(
    operators: readonly ComparisonOperator[],
    parseOperand: () => FilterExpression,
  ): FilterExpression {
    let left = parseOperand();
    for (let operator = this.#takeKeyword(operators); operator; operator = this.#takeKeyword(operators)) {
      const right = parseOperand();
      const mode = comparisonMode(left.type, right.type, operator);
      if (!mode) throw incompatibleOperands(left.type, right.type, operator);
      left = { kind: 'comparison', type: 'Edm.Boolean', operator, mode, left, right };
    }
    return left;
  }

  #parseUnary(): FilterExpression {
    if (!this.#takeKeyword(['not'])) return this.#parsePrimary();
    const operand = this.#parseUnary();
    if (operand.type !== 'Edm.Boolean') {
      throw new ODataError(
        400,
        `A unary operator with an incompatible type was detected. Found operand type '${operand.type}' for operator kind 'Not'.`,
      );
    }
    return { kind: 'not', type: 'Edm.Boolean', operand };
  }

  #parsePrimary(): FilterExpression {
    const token = this.#next();
    switch (token.kind) {
      case '(': {
        const inner = this.#parseOr();
        this.#expect(')', "')' or operator expected");
        return inner;
      }
      case 'string':
        return { kind: 'literal', type: 'Edm.String', value: token.value };
      case 'guid':
        return { kind: 'literal', type: 'Edm.Guid', value: token.value };
      case 'datetime':
        return { kind: 'literal', type: 'Edm.DateTimeOffset', value: token.value };
      case 'number':
        return { kind: 'literal', type: token.integer ? 'Edm.Int32' : 'Edm.Decimal', value: token.value };
      case 'identifier':
        return this.#parseIdentifier(token.value, token.position);
      default:
        throw syntaxError('Expression expected', token.position, this.#text);
    }
  }

  #parseIdentifier(name: string, position: number): FilterExpression {
    if (name === 'null') return { kind: 'literal', type: 'null', value: null };
    if (name === 'true' || name === 'false')
      return { kind: 'literal', type: 'Edm.Boolean', value: name === 'true' };
    if (this.#peek().kind === '(') return this.#parseCall(name, position);
    const property = this.#entity.propertyByName.get(name);
    if (!property) {
      throw new ODataError(
        400,
        `Could not find a property named '${name}' on type '${this.#entity.typeName}'.`,
      );
    }
    return { kind: 'property', type: property.type, name };
  }

  #parseCall(name: string, position: number): FilterExpression {
    if (!isFunctionName(name)) {
      throw new ODataError(400, `An unknown function with name '${name}' was found at position ${position}.`);
    }
    this.#next(); // '('
    const args: FilterExpression[] = [];
    if (this.#peek().kind !== ')') {
      args.push(this.#parseOr());
      while (this.#peek().kind === ',') {
        this.#next();
        args.push(this.#parseOr());
      }
    }
    this.#expect(')', "')' or ',' expected");
    const signature = functions[name];
    const matches =
      args.length === signature.parameters.length &&
      args.every((arg, i) => arg.type === signature.parameters[i] || arg.type === 'null');
    if (!matches) {
      throw new ODataError(
        400,
        `No function signature for the function with name '${name}' matches the specified arguments. ` +
          `The function signature considered is: ${name}(${signature.parameters.join(', ')}).`,
      );
    }
    return { kind: 'call', type: signature.returns, name, args };
  }

  #expect(kind: ')', what: string): void {
    const token = this.#next();
    if (token.kind !== kind) throw syntaxError(what, token.position, this.#text);
  }
}

function incompatibleOperands(
  left: FilterType,
  right: FilterType,
  operator: ComparisonOperator | 'and' | 'or',
) {
  return new ODataError(
    400,
    `A binary operator with incompatible types was detected. Found operand types '${left}' and '${right}' ` +
      `for operator kind '${operatorKind[operator]}'.`,
  );
}

/** Parses and type-checks a `$filter` value against an entity type; throws ODataError(400) saying what and where. */
export function parseFilter(text: string, entity: EntityDefinition): FilterExpression {
  return new FilterParser(text, entity).parse();
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

/** Text compares like a case-insensitive database collation: 'acme' eq 'ACME'. */
const textCollator = new Intl.Collator('en', { sensitivity: 'accent' });

function evaluate(expression: FilterExpression, row: EntityRow): FilterValue {
  switch (expression.kind) {
    case 'literal':
      return expression.value;
    case 'property': {
      const value = row[expression.name] ?? null;
      if (value === null) return null;
      if (expression.type === 'Edm.DateTimeOffset') return Date.parse(value);
      return expression.type === 'Edm.Guid' ? value.toLowerCase() : value;
    }
    case 'call': {
      const args = expression.args.map((arg) => evaluate(arg, row));
      return args.includes(null) ? null : functions[expression.name].apply(args);
    }
    case 'not': {
      const value = evaluate(expression.operand, row);
      return value === null ? null : !value;
    }
    case 'logical': {
      const left = evaluate(expression.left, row) === true;
      const right = evaluate(expression.right, row) === true;
      return expression.operator === 'and' ? left && right : left || right;
    }
    case 'comparison':
      return compare(expression, evaluate(expression.left, row), evaluate(expression.right, row));
  }
}

function compare(
  expression: Extract<FilterExpression, { kind: 'comparison' }>,
  left: FilterValue,
  right: FilterValue,
): boolean {
  const { operator, mode } = expression;
  // null equals only null and is neither greater nor less than anything.
  if (left === null || right === null) {
    if (operator === 'eq') return left === right;
    if (operator === 'ne') return left !== right;
    return false;
  }
  const order = orderOf(mode, left, right);
  switch (operator) {
    case 'eq':
      return order === 0;
    case 'ne':
      return order !== 0;
    case 'gt':
      return order > 0;
    case 'ge':
      return order >= 0;
    case 'lt':
      return order < 0;
    case 'le':
      return order <= 0;
  }
}

function orderOf(
  mode: ComparisonMode,
  left: string | number | boolean,
  right: string | number | boolean,
): number {
  switch (mode) {
    case 'text':
      return textCollator.compare(String(left), String(right));
    case 'number':
      return Number(left) - Number(right);
    case 'boolean':
      return left === right ? 0 : 1;
    case 'ordinal':
      return left === right ? 0 : String(left) < String(right) ? -1 : 1;
  }
}

/** True when the row passes the filter; a null result (e.g. `Notes eq null and contains(Notes,'x')`) is false. */
export function matchesFilter(expression: FilterExpression, row: EntityRow): boolean {
  return evaluate(expression, row) === true;
}

/** Orders two column values as `$orderby` does: nulls first, text without regard to case. */
export function compareColumnValues(type: EdmType, left: string | null, right: string | null): number {
  if (left === null || right === null) return left === right ? 0 : left === null ? -1 : 1;
  if (type === 'Edm.String') return textCollator.compare(left, right);
  if (type === 'Edm.DateTimeOffset') return Date.parse(left) - Date.parse(right);
  const a = left.toLowerCase();
  const b = right.toLowerCase();
  return a === b ? 0 : a < b ? -1 : 1;
}
