/**
 * Seed logos for the stand-in's accounts: every third account has one, a small SVG with the account's initials,
 * stored as Creatio stores logos — a SysImage record (MimeType, Data) named by the account's AccountLogoId — so the
 * account page has images to show and replace from the first start.
 */
import type { EntityRow } from './entities.ts';
import { streamKey } from './records.ts';

const palette = ['#2563eb', '#0f766e', '#b45309', '#7c3aed', '#be123c', '#15803d', '#0369a1', '#a21caf'];

function initialsOf(name: string): string {
  return name
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase() ?? '')
    .join('');
}

function logoSvg(name: string, index: number): string {
  const color = palette[index % palette.length];
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">' +
    `<rect width="96" height="96" rx="20" fill="${color}"/>` +
    '<circle cx="76" cy="20" r="10" fill="#fff" fill-opacity=".25"/>' +
    '<text x="48" y="60" text-anchor="middle" font-family="Arial, Helvetica, sans-serif" font-size="34" ' +
    `font-weight="700" fill="#fff">${initialsOf(name)}</text></svg>`
  );
}

/** Adds logos to `accounts` (sets AccountLogoId) and returns the SysImage rows and their content. */
export function createSeedLogos(accounts: EntityRow[]): { images: EntityRow[]; streams: [string, Buffer][] } {
  const images: EntityRow[] = [];
  const streams: [string, Buffer][] = [];
  accounts.forEach((account, index) => {
    if (index % 3 !== 0) return;
    // Derived from the account's id, so the seed stays the same on every start without another random draw.
    const id = `${String(account.Id).slice(0, 24)}${(index + 1).toString(16).padStart(12, '0')}`;
    images.push({
      Id: id,
      Name: `${account.Name} logo.svg`,
      MimeType: 'image/svg+xml',
      CreatedOn: account.CreatedOn ?? null,
      ModifiedOn: account.CreatedOn ?? null,
    });
    streams.push([streamKey('SysImage', id, 'Data'), Buffer.from(logoSvg(String(account.Name), index))]);
    account.AccountLogoId = id;
  });
  return { images, streams };
}
