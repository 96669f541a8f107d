// prom-client helpers shared by the controller and the webhook. Every process
// (and every test) gets its own Registry instead of prom-client's global one, so
// metrics never leak between app instances.
import { collectDefaultMetrics, Registry } from 'prom-client';

/** A fresh registry carrying Node's process metrics (CPU, memory, event loop lag, GC, handles). */
export function newProcessRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The Prometheus text exposition of a registry, with its content type. */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
