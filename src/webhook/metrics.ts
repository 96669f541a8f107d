// The webhook's Prometheus metrics, named as controller-runtime names them
// (pkg/webhook/internal/metrics, pkg/certwatcher/metrics) so the standard
// controller-runtime dashboards and alerts work unchanged.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WebhookMetrics {
  requests: Counter<'webhook' | 'code'>;
  latency: Histogram<'webhook'>;
  inFlight: Gauge<'webhook'>;
  panics: Counter;
}

export function registerWebhookMetrics(registry: Registry): WebhookMetrics {
  return {
    requests: new Counter({
      name: 'controller_runtime_webhook_requests_total',
      help: 'Total number of admission requests by HTTP status code.',
      labelNames: ['webhook', 'code'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'controller_runtime_webhook_latency_seconds',
      help: 'Histogram of the latency of processing admission requests',
      labelNames: ['webhook'],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'controller_runtime_webhook_requests_in_flight',
      help: 'Current number of admission requests being served.',
      labelNames: ['webhook'],
      registers: [registry],
    }),
    panics: new Counter({
      name: 'controller_runtime_webhook_panics_total',
      help: 'Total number of webhook panics',
      registers: [registry],
    }),
  };
}

export interface CertWatcherMetrics {
  reads: Counter;
  readErrors: Counter;
}

export function registerCertWatcherMetrics(registry: Registry): CertWatcherMetrics {
  return {
    reads: new Counter({
      name: 'certwatcher_read_certificate_total',
      help: 'Total number of certificate reads',
      registers: [registry],
    }),
    readErrors: new Counter({
      name: 'certwatcher_read_certificate_errors_total',
      help: 'Total number of certificate read errors',
      registers: [registry],
    }),
  };
}
