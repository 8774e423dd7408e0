/** Summarises a V8 .cpuprofile: self time by function and by part of the stack, within a time window. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  samples: number;
  top: { frame: string; share: number }[];
  parts: { part: string; share: number }[];
}

function where(url: string): string {
  if (!url) return '';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  const server = url.lastIndexOf('/server/');
  if (server !== -1) return url.slice(server + 1);
  return url.replace(/^file:\/\//, '');
}

/** Which part of the stack a frame belongs to, for the "where the time goes" rollup. */
function partOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url.includes('/express-session/')) return 'express-session';
  if (url.includes('/undici/')) return 'undici';
  if (url.includes('/helmet/')) return 'helmet';
  if (url.includes('/router/') || url.includes('/express/')) return 'express + router';
  if (url.includes('/server/session/')) return 'ours: session';
  if (url.includes('/server/proxy/')) return 'ours: proxy';
  if (url.includes('/server/')) return 'ours: other';
  if (url.includes('/node_modules/')) return 'other libraries';
  if (url.startsWith('node:') || url === '') return 'Node core (http, streams, crypto…)';
  return 'other';
}

export function summariseProfile(file: string, fromUs: number, toUs: number, topN = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const id = profile.samples[i]!;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    hits.set(id, (hits.get(id) ?? 0) + 1);
    total++;
  }
  const frames = new Map<string, number>();
  const parts = new Map<string, number>();
  for (const [id, count] of hits) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const location = where(url);
    const frame = `${functionName || '(anonymous)'}${location ? ` ${location}:${lineNumber + 1}` : ''}`;
    frames.set(frame, (frames.get(frame) ?? 0) + count);
    const part = partOf(node);
    parts.set(part, (parts.get(part) ?? 0) + count);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    samples: total,
    top: sorted(frames)
      .slice(0, topN)
      .map(([frame, count]) => ({ frame, share: count / total })),
    parts: sorted(parts).map(([part, count]) => ({ part, share: count / total })),
  };
}
