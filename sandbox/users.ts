/**
 * The sandbox's demo users. Creatio identifies a user by a Contact/SysAdminUnit id; the sandbox uses that id as
 * the OpenID `sub`, and the OData stand-in shows each user only the records they own.
 */
export interface DemoUser {
  readonly sub: string;
  readonly username: string;
  readonly password: string;
  readonly name: string;
  readonly email: string;
  /**
   * The "Access to OData" system operation (`CanUseODataService`). Without it Creatio refuses every OData call with
   * 403, whatever the token; the user can still sign in. Absent means granted.
   */
  readonly canUseOData?: false;
  /** Shown next to the user in the demo-user lists, when the user is there to demonstrate something. */
  readonly note?: string;
}

export const demoUsers: readonly DemoUser[] = Object.freeze([
  {
    sub: '410006e1-ca4e-4502-a9ec-e54d922d2c00',
    username: 'alice',
    password: 'alice-demo',
    name: 'Alice Andersen',
    email: 'alice@example.com',
  },
  {
    sub: '5b2e7a51-3f1c-4c1e-9b7a-2f7c1c0d7b11',
    username: 'bob',
    password: 'bob-demo',
    name: 'Bob Brennan',
    email: 'bob@example.com',
  },
  {
    sub: 'c3d9e0f2-8a4b-4d6c-b1e2-3f4a5b6c7d22',
    username: 'carol',
    password: 'carol-demo',
    name: 'Carol Castillo',
    email: 'carol@example.com',
  },
  {
    sub: 'e8f1a2b3-c4d5-4e6f-8a7b-9c0d1e2f3a44',
    username: 'dave',
    password: 'dave-demo',
    name: 'Dave Dunmore',
    email: 'dave@example.com',
    canUseOData: false,
    note: 'no "Access to OData" permission: every OData call answers 403',
  },
]);

/** Whether Creatio lets this user call OData at all; unknown users (the technical user) may. */
export function canUseOData(sub: string): boolean {
  return findUserBySub(sub)?.canUseOData !== false;
}

/** The users who own seed records: those who can see data at all (the seed must not change when one is added). */
export const recordOwners: readonly DemoUser[] = demoUsers.filter((user) => user.canUseOData !== false);

/**
 * The technical user that the client-credentials client acts as (seed 002). It is a system administrator in the
 * sandbox, so it may call OAuthConfigService.
 */
export const technicalUser = Object.freeze({
  sub: '7f3b869f-34f3-4f20-ab4d-7480a5fdf648',
  name: 'Integration technical user',
});

export function findUserByUsername(username: string): DemoUser | undefined {
  const wanted = username.trim().toLowerCase();
  return demoUsers.find((u) => u.username === wanted || u.email === wanted);
}

export function findUserBySub(sub: string): DemoUser | undefined {
  const wanted = sub.toLowerCase();
  return demoUsers.find((u) => u.sub === wanted);
}
