/**
 * Seed data for the Creatio stand-in: the same few hundred accounts and contacts on every start, each owned by one
 * demo user, so tests and screenshots can rely on them ("alice owns 'Northwind Logistics Ltd'").
 * A small seeded PRNG (mulberry32) makes the data deterministic without storing it.
 */
import type { EntityRow, EntitySetName } from './entities.ts';

export const seedAccountCount = 240;
export const contactsPerAccount = 2;

type Random = () => number;

/** mulberry32: 32-bit state, good enough spread for test data, and the same sequence for the same seed. */
function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function digits(random: Random, count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += Math.floor(random() * 10);
  return text;
}

/** A version-4-shaped GUID from the PRNG, lower case as Creatio's OData 4 writes them. */
function seededGuid(random: Random): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = (8 + Math.floor(random() * 4)).toString(16);
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

const companyStems = [
  'Northwind',
  'Blue Harbor',
  'Silverline',
  'Redwood',
  'Summit',
  'Granite',
  'Brightwater',
  'Ironbridge',
  'Oakfield',
  'Lakeside',
  'Stonegate',
  'Evergreen',
  'Pioneer',
  'Westbrook',
  'Highland',
  'Maple Leaf',
  'Crescent',
  'Falcon',
  'Harborview',
  'Sterling',
  'Cedar Point',
  'Riverside',
  'Golden Gate',
  'Atlas',
];
const companyTrades = [
  'Logistics',
  'Software',
  'Consulting',
  'Manufacturing',
  'Foods',
  'Energy',
  'Health',
  'Retail',
  'Engineering',
  'Finance',
  'Media',
  'Robotics',
];
const legalForms = ['Ltd', 'Inc.', 'GmbH', 'LLC', 'S.A.', 'B.V.', 'Group', 'plc'];
const cities = [
  'London',
  'Manchester',
  'Berlin',
  'Munich',
  'Paris',
  'Lyon',
  'Madrid',
  'Amsterdam',
  'Warsaw',
  'Prague',
  'Vienna',
  'Dublin',
  'New York',
  'Chicago',
  'Toronto',
  'Sydney',
];
const accountNotes = [
  'Key account; quarterly business review in place.',
  'Prefers contact by e-mail.',
  'Renewal due next quarter.',
  'Interested in the analytics add-on.',
  "Met at the partners' conference.",
];
const firstNames = [
  'Olivia',
  'Liam',
  'Emma',
  'Noah',
  'Sofia',
  'Lucas',
  'Mia',
  'Ethan',
  'Hannah',
  'Mateo',
  'Chloe',
  'Jonas',
  'Amelia',
  'Leon',
  'Isla',
  'Oscar',
  'Zoe',
  'Felix',
  'Nora',
  'Hugo',
];
const lastNames = [
  'Smith',
  'Müller',
  'García',
  'Dubois',
  'Kowalski',
  'Novak',
  "O'Brien",
  'Rossi',
  'Jansen',
  'Nielsen',
  'Schmidt',
  'Martin',
  'Walsh',
  'Fischer',
  'Silva',
  'Berg',
  'Keller',
  'Moreau',
];
const jobTitles = [
  'CEO',
  'CFO',
  'Head of Sales',
  'Procurement Manager',
  'IT Director',
  'Office Manager',
  'Marketing Lead',
  'Account Manager',
];

const seedStart = Date.parse('2022-01-03T08:00:00Z');
const twoYearsMs = 2 * 365 * 24 * 3600 * 1000;

function seededDates(random: Random): { CreatedOn: string; ModifiedOn: string } {
  const created = seedStart + Math.floor(random() * twoYearsMs);
  const modified = created + Math.floor(random() * 90 * 24 * 3600 * 1000);
  return { CreatedOn: new Date(created).toISOString(), ModifiedOn: new Date(modified).toISOString() };
}

function toDomain(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** Fresh rows for one app instance: every call returns new objects from the same sequence. */
export function createSeedRows(ownerIds: readonly string[]): Record<EntitySetName, EntityRow[]> {
  const random = createRandom(0xc0ffee);
  const accounts: EntityRow[] = [];
  const contacts: EntityRow[] = [];
  const usedNames = new Set<string>();
  while (accounts.length < seedAccountCount) {
    const stem = pick(random, companyStems);
    const trade = pick(random, companyTrades);
    const name = `${stem} ${trade} ${pick(random, legalForms)}`;
    if (usedNames.has(name)) continue;
    usedNames.add(name);
    const accountId = seededGuid(random);
    const ownerId = pick(random, ownerIds);
    const domain = `${toDomain(`${stem} ${trade}`)}.example.com`;
    const account: EntityRow = {
      Id: accountId,
      Name: name,
      Code: String(accounts.length + 1),
      Phone: `+44 20 7946 ${digits(random, 4)}`,
      Web: `https://www.${domain}`,
      City: pick(random, cities),
      Notes: random() < 0.4 ? pick(random, accountNotes) : null,
      PrimaryContactId: null,
      AccountLogoId: null,
      OwnerId: ownerId,
      ...seededDates(random),
    };
    accounts.push(account);
    for (let i = 0; i < contactsPerAccount; i++) {
      const first = pick(random, firstNames);
      const last = pick(random, lastNames);
      const contactId = seededGuid(random);
      // The account's first contact is its primary contact, so the account page has one to show.
      if (i === 0) account.PrimaryContactId = contactId;
      contacts.push({
        Id: contactId,
        Name: `${first} ${last}`,
        Email: `${toDomain(first)}.${toDomain(last)}@${domain}`,
        MobilePhone: `+44 7700 ${digits(random, 6)}`,
        JobTitle: pick(random, jobTitles),
        AccountId: accountId,
        // Most contacts belong to their account's owner; some to a colleague, as in a real CRM.
        OwnerId: random() < 0.8 ? ownerId : pick(random, ownerIds),
        ...seededDates(random),
      });
    }
  }
  return { Account: accounts, Contact: contacts, SysImage: [], AccountFile: [] };
}
