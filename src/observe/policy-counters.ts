/** `nft -j list counters table inet podnet-policy`: counter name -> packets. */
export function observeCounters(json: string): Record<string, number> {
  const out: Record<string, number> = {};
  let doc: { nftables?: { counter?: { name: string; packets: number } }[] };
  try {
    doc = JSON.parse(json);
  } catch {
    return out;
  }
  for (const o of doc.nftables ?? []) if (o.counter) out[o.counter.name] = o.counter.packets;
  return out;
}
