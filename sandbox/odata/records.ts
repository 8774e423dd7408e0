/**
 * The stand-in's in-memory table of records with Creatio-like record permissions: a user reads and changes only
 * the records they own (OwnerId), a system administrator — the technical user of the client-credentials client —
 * reads and changes all. Every app instance holds its own copy, so a test's writes never leak into another test.
 */
import type { EntityRow, EntitySetName } from './entities.ts';

/** Who is asking, as the bearer token says. */
export interface Principal {
  readonly userId: string;
  readonly isSystemAdministrator: boolean;
}

export class RecordStore {
  readonly #tables: Record<EntitySetName, Map<string, EntityRow>>;

  constructor(seed: Record<EntitySetName, EntityRow[]>) {
    this.#tables = {
      Account: new Map(seed.Account.map((row) => [String(row.Id), row])),
      Contact: new Map(seed.Contact.map((row) => [String(row.Id), row])),
    };
  }

  #canSee(row: EntityRow, principal: Principal): boolean {
    return principal.isSystemAdministrator || row.OwnerId?.toLowerCase() === principal.userId.toLowerCase();
  }

  /** The rows the principal may read, in insertion order (Creatio's order when no `$orderby` is given). */
  visibleRows(set: EntitySetName, principal: Principal): EntityRow[] {
    return [...this.#tables[set].values()].filter((row) => this.#canSee(row, principal));
  }

  /** Undefined both when the row does not exist and when the principal may not see it: a 404 either way. */
  find(set: EntitySetName, id: string, principal: Principal): EntityRow | undefined {
    const row = this.#tables[set].get(id.toLowerCase());
    return row && this.#canSee(row, principal) ? row : undefined;
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
  }
}
