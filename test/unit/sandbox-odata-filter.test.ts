/**
 * The stand-in's `$filter` parser and evaluator: precedence, literals, type checks, and the wording of syntax
 * errors (which say what is wrong and where, as Creatio's do).
 */
import { describe, expect, it } from 'vitest';
import { type EntityDefinition, type EntityRow, entityDefinitions } from '../../sandbox/odata/entities.ts';
import { ODataError } from '../../sandbox/odata/errors.ts';
import { matchesFilter, parseFilter } from '../../sandbox/odata/filter.ts';

const account = entityDefinitions.get('Account') as EntityDefinition;

const acme: EntityRow = {
  Id: '5a1c0000-0000-4000-8000-000000000001',
  Name: "Acme O'Hara Ltd",
  Code: '7',
  Phone: null,
  Web: 'https://acme.example.com',
  City: 'Berlin',
  Notes: null,
  OwnerId: '410006e1-ca4e-4502-a9ec-e54d922d2c00',
  CreatedOn: '2023-03-01T10:00:00.000Z',
  ModifiedOn: '2023-04-01T10:00:00.000Z',
};

function matches(filter: string, row: EntityRow = acme): boolean {
  return matchesFilter(parseFilter(filter, account), row);
}

function errorOf(filter: string): string {
  try {
    parseFilter(filter, account);
  } catch (error) {
    expect(error).toBeInstanceOf(ODataError);
    expect((error as ODataError).status).toBe(400);
    return (error as ODataError).message;
  }
  throw new Error(`expected '${filter}' to be refused`);
}

describe('parseFilter + matchesFilter', () => {
  it.each([
    ["Name eq 'Acme O''Hara Ltd'", true],
    ["Name eq 'acme o''hara ltd'", true], // text compares without regard to case, like Creatio's databases
    ["Name ne 'Acme O''Hara Ltd'", false],
    ["City gt 'Amsterdam' and City lt 'Cairo'", true],
    ["City ge 'Berlin' and City le 'berlin'", true],
    ["contains(Name,'hara')", true],
    ["startswith(Name,'ACME')", true],
    ["endswith(Web,'.example.org')", false],
    ["tolower(City) eq 'berlin' and toupper(City) eq 'BERLIN'", true],
    ['length(Code) eq 1', true],
    ['OwnerId eq 410006E1-CA4E-4502-A9EC-E54D922D2C00', true], // bare GUIDs, any case
    ['Notes eq null and Phone eq null', true],
    ['Notes ne null', false],
    ['CreatedOn lt 2023-03-01T11:00:00+00:00 and CreatedOn gt 2023-03-01T09:59:59.5Z', true],
    ["contains(Notes,'x')", false], // null propagates and counts as false
    ["not contains(Notes,'x')", false], // ... also under not, as in SQL
    ["not (City eq 'Paris')", true],
    ["contains(Name,'Acme') eq true", true],
  ])('%s → %s', (filter, expected) => {
    expect(matches(filter)).toBe(expected);
  });

  it('binds and tighter than or, and parentheses override it', () => {
    // false or (true and false) = false;  (false or true) and false = false;  false or true and true = true
    expect(matches("City eq 'Paris' or City eq 'Berlin' and Code eq '8'")).toBe(false);
    expect(matches("City eq 'Paris' or City eq 'Berlin' and Code eq '7'")).toBe(true);
    expect(matches("(City eq 'Berlin' or City eq 'Paris') and Code eq '7'")).toBe(true);
    expect(matches("City eq 'Berlin' or (City eq 'Paris' and Code eq '8')")).toBe(true);
  });

  it('binds not tighter than eq, as OData does, so not needs parentheses around a comparison', () => {
    expect(errorOf("not City eq 'Paris'")).toBe(
      "A unary operator with an incompatible type was detected. Found operand type 'Edm.String' for operator kind 'Not'.",
    );
  });
});

describe('syntax and type errors', () => {
  it.each([
    ["Name eq 'Acme", "There is an unterminated string literal at position 8 in 'Name eq 'Acme'."],
    ['Name eq "Acme"', `Syntax error: character '"' is not valid at position 8 in 'Name eq "Acme"'.`],
    ["Name eq 'a' City", "Syntax error at position 12 in 'Name eq 'a' City'."],
    ["(Name eq 'a'", "')' or operator expected at position 12 in '(Name eq 'a''."],
    ["contains(Name 'a')", "')' or ',' expected at position 14 in 'contains(Name 'a')'."],
    ['Name eq', "Expression expected at position 7 in 'Name eq'."],
    ['', "Expression expected at position 0 in ''."],
    [
      "Nmae eq 'a'",
      "Could not find a property named 'Nmae' on type 'Terrasoft.Configuration.OData.Account'.",
    ],
    [
      "Name eq 'a' and Name",
      "A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.String' for operator kind 'And'.",
    ],
    [
      "OwnerId eq '410006e1-ca4e-4502-a9ec-e54d922d2c00'",
      "Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'",
    ],
    ['Name', 'The $filter expression must evaluate to a single boolean value.'],
    ["substringof('a',Name)", "An unknown function with name 'substringof' was found at position 0."],
    [
      'contains(Name)',
      "No function signature for the function with name 'contains' matches the specified arguments.",
    ],
  ])('%s', (filter, message) => {
    expect(errorOf(filter)).toContain(message);
  });
});
