/**
 * The stand-in's in-memory tables with Creatio-like record permissions: a user reads and changes only the records
 * they own (OwnerId), a system administrator — the technical user of the client-credentials client — reads and
 * changes all; rows of an entity without an owner (SysImage) are shared. Every app instance holds its own copy, so
 * a test's writes never leak into another test.
 *
 * Stream columns (`SysImage.Data`) are kept beside the rows as bytes; their media type is the row's business
 * (SysImage.MimeType), as in Creatio.
 * `snapshot()`/`restore()` give a `$batch` change set its all-or-nothing.
 */
import { type EntityRow, type EntitySetName, entityDefinitions } from './entities.ts';

/** Who is asking, as the bearer token says. */
export interface Principal {
  readonly userId: string;
  readonly isSystemAdministrator: boolean;
}

type Tables = Record<EntitySetName, Map<string, EntityRow>>;

export interface StoreSnapshot {
  readonly tables: Tables;
  readonly streams: Map<string, Buffer>;
}

function copyTables(tables: Tables): Tables {
  return Object.fromEntries(Object.entries(tables).map(([name, rows]) => [name, new Map(rows)])) as Tables;
}

export class RecordStore {
  #tables: Tables;
  #streams = new Map<string, Buffer>();

  constructor(seed: Partial<Record<EntitySetName, EntityRow[]>>, streams: Iterable<[string, Buffer]> = []) {
    this.#tables = Object.fromEntries(
      [...entityDefinitions.keys()].map((name) => [
        name,
        new Map((seed[name] ?? []).map((row) => [String(row.Id), row])),
      ]),
    ) as Tables;
    for (const [key, stream] of streams) this.#streams.set(key, stream);
  }

  #canSee(set: EntitySetName, row: EntityRow, principal: Principal): boolean {
    if (principal.isSystemAdministrator || !entityDefinitions.get(set)?.owned) return true;
    return row.OwnerId?.toLowerCase() === principal.userId.toLowerCase();
  }

  /** The rows the principal may read, in insertion order (Creatio's order when no `$orderby` is given). */
  visibleRows(set: EntitySetName, principal: Principal): EntityRow[] {
    return [...this.#tables[set].values()].filter((row) => this.#canSee(set, row, principal));
  }

  /** Undefined both when the row does not exist and when the principal may not see it: a 404 either way. */
  find(set: EntitySetName, id: string, principal: Principal): EntityRow | undefined {
    const row = this.#tables[set].get(id.toLowerCase());
    return row && this.#canSee(set, row, principal) ? row : undefined;
  }

  has(set: EntitySetName, id: string): boolean {
    return this.#tables[set].has(id.toLowerCase());
  }

  insert(set: EntitySetName, row: EntityRow): EntityRow {
    const id = String(row.Id).toLowerCase();
    const stored = { ...row, Id: id };
    this.#tables[set].set(id, stored);
    return stored;
  }

  update(set: EntitySetName, row: EntityRow, change: EntityRow): EntityRow {
    const updated = { ...row, ...change, Id: row.Id ?? null, ModifiedOn: new Date().toISOString() };
    this.#tables[set].set(String(row.Id), updated);
    return updated;
  }

  remove(set: EntitySetName, row: EntityRow): void {
    this.#tables[set].delete(String(row.Id));
    for (const key of this.#streams.keys()) {
      if (key.startsWith(`${set}(${row.Id})/`)) this.#streams.delete(key);
    }
  }

  readStream(set: EntitySetName, row: EntityRow, column: string): Buffer | undefined {
    return this.#streams.get(streamKey(set, String(row.Id), column));
  }

  /** Writes (or, with undefined, deletes) a stream column and touches the row's ModifiedOn. */
  writeStream(set: EntitySetName, row: EntityRow, column: string, stream: Buffer | undefined): void {
    const key = streamKey(set, String(row.Id), column);
    if (stream) this.#streams.set(key, stream);
    else this.#streams.delete(key);
    this.update(set, row, {});
  }

  /** Rows are replaced, never mutated, so copying the maps is a complete snapshot. */
  snapshot(): StoreSnapshot {
    return { tables: copyTables(this.#tables), streams: new Map(this.#streams) };
  }

  restore(snapshot: StoreSnapshot): void {
    this.#tables = copyTables(snapshot.tables);
    this.#streams = new Map(snapshot.streams);
  }
}

export function streamKey(set: EntitySetName, id: string, column: string): string {
  return `${set}(${id.toLowerCase()})/${column}`;
}
