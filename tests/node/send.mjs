// Sends spans, a log record and a metric carrying personal data through the OpenTelemetry JS
// SDK's real providers and OTLP exporters, over OTLP/gRPC and OTLP/HTTP (protobuf), so that
// tests/test_relay_node.py can check what the otelpriv relay forwards from a Node.js client.
//
// Usage: node send.mjs --grpc HOST:PORT --http http://HOST:PORT [--compression none|gzip]
//        (or OTELPRIV_TEST_GRPC / OTELPRIV_TEST_HTTP / OTELPRIV_TEST_COMPRESSION)
//
// Prints one JSON document on stdout: per transport, the ids and names of the spans and the
// log record it made. Exits 0 only if every export reported SUCCESS; otherwise prints each
// failure on stderr and exits 1. Diagnostics of the SDK (warnings and errors) go to stderr.

import { parseArgs } from 'node:util';

import {
  context,
  diag,
  DiagConsoleLogger,
  DiagLogLevel,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import {
  OTLPMetricExporter as GrpcMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-grpc';
import {
  OTLPMetricExporter as HttpMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

// The planted personal data; tests/test_relay_node.py holds the same values.
const EMAIL = 'ines.marchetti@example.org';
const CARD = '4111 1111 1111 1111';
const CLIENT_IP = '203.0.113.54';
const TOKEN = 'tok-Q7zX2pLm9R';

const TIMEOUT_MILLIS = 10000;
const SUCCESS = 0;

function endpoints() {
  const { values } = parseArgs({
    options: {
      grpc: { type: 'string' },
      http: { type: 'string' },
      compression: { type: 'string' },
    },
  });
  const grpc = values.grpc ?? process.env.OTELPRIV_TEST_GRPC;
  const http = values.http ?? process.env.OTELPRIV_TEST_HTTP;
  const compression = values.compression ?? process.env.OTELPRIV_TEST_COMPRESSION ?? 'none';
  if (!grpc || !http || !['none', 'gzip'].includes(compression)) {
    throw new Error(
      'usage: node send.mjs --grpc HOST:PORT --http http://HOST:PORT [--compression none|gzip]',
    );
  }
  return { grpc: `http://${grpc}`, http: http.replace(/\/+$/, ''), compression };
}

function exporters(transport, base, compression) {
  const options = (path) => ({
    url: transport === 'grpc' ? base : `${base}${path}`,
    compression,
    timeoutMillis: TIMEOUT_MILLIS,
  });
  if (transport === 'grpc') {
    return {
      traces: new GrpcTraceExporter(options()),
      logs: new GrpcLogExporter(options()),
      metrics: new GrpcMetricExporter(options()),
    };
  }
  return {
    traces: new HttpTraceExporter(options('/v1/traces')),
    logs: new HttpLogExporter(options('/v1/logs')),
    metrics: new HttpMetricExporter(options('/v1/metrics')),
  };
}

// Every export's result, and every error a flush or shutdown threw, so the script can fail
// when anything did not succeed.
const outcomes = [];
const thrown = [];

async function settle(name, step) {
  try {
    await step();
  } catch (error) {
    thrown.push(`${name}: ${describe(error)}`);
  }
}

function describe(error) {
  if (Array.isArray(error)) {
    return error.map(describe).join('; ');
  }
  return error?.stack ?? String(error);
}

function recording(name, exporter) {
  const outcome = { name, results: [] };
  outcomes.push(outcome);
  const exportBatch = exporter.export.bind(exporter);
  exporter.export = (items, done) =>
    exportBatch(items, (result) => {
      outcome.results.push(result);
      done(result);
    });
  return exporter;
}

function spanInfo(span, name) {
  const { traceId, spanId } = span.spanContext();
  return { name, traceId, spanId };
}

async function sendTraces(transport, exporter, resource) {
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(recording(`${transport} traces`, exporter))],
  });
  const tracer = provider.getTracer(`checkout-${transport}`, '1.0.0');
  const serverName = `POST /checkout (${transport})`;
  const server = tracer.startSpan(serverName, {
    kind: SpanKind.SERVER,
    attributes: {
      'enduser.id': EMAIL,
      'url.full': `https://shop.example.com/checkout?token=${TOKEN}&step=2`,
      'client.address': CLIENT_IP,
      'http.request.method': 'POST',
      'http.response.status_code': 502,
    },
  });
  const serverContext = trace.setSpan(context.active(), server);
  const childName = `charge card (${transport})`;
  const child = tracer.startSpan(childName, { kind: SpanKind.CLIENT }, serverContext);
  child.recordException(new Error(`card ${CARD} declined for ${EMAIL}`));
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  const spans = [
    spanInfo(server, serverName),
    { ...spanInfo(child, childName), parentSpanId: server.spanContext().spanId },
  ];
  child.end();
  server.end();
  await settle(`${transport} traces`, async () => {
    await provider.forceFlush();
    await provider.shutdown();
  });
  return { spans, serverContext };
}

async function sendLogs(transport, exporter, resource, spanContext) {
  const provider = new LoggerProvider({
    resource,
    processors: [
      new SimpleLogRecordProcessor({ exporter: recording(`${transport} logs`, exporter) }),
    ],
  });
  provider.getLogger(`checkout-${transport}`, '1.0.0').emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: 'ERROR',
    body: `order failed for ${EMAIL}`,
    attributes: { 'client.address': CLIENT_IP },
    context: spanContext,
  });
  await settle(`${transport} logs`, async () => {
    await provider.forceFlush();
    await provider.shutdown();
  });
}

async function sendMetrics(transport, exporter, resource) {
  const reader = new PeriodicExportingMetricReader({
    exporter: recording(`${transport} metrics`, exporter),
    exportIntervalMillis: 60000,
    exportTimeoutMillis: TIMEOUT_MILLIS,
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  const counter = provider.getMeter(`checkout-${transport}`, '1.0.0').createCounter('orders');
  counter.add(1, { 'enduser.id': EMAIL, 'client.address': CLIENT_IP });
  await settle(`${transport} metrics`, () => provider.shutdown());
}

async function send(transport, base, compression) {
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': 'node-shop' }));
  const signals = exporters(transport, base, compression);
  const { spans, serverContext } = await sendTraces(transport, signals.traces, resource);
  await sendLogs(transport, signals.logs, resource, serverContext);
  await sendMetrics(transport, signals.metrics, resource);
  const { traceId, spanId } = trace.getSpan(serverContext).spanContext();
  return { spans, log: { traceId, spanId } };
}

function failures() {
  const found = [...thrown];
  for (const { name, results } of outcomes) {
    if (results.length === 0) {
      found.push(`${name}: nothing was exported`);
    }
    for (const result of results) {
      if (result.code !== SUCCESS) {
        found.push(`${name}: ${describe(result.error ?? 'export failed')}`);
      }
    }
  }
  return found;
}

async function main() {
  diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
  const { grpc, http, compression } = endpoints();
  const sent = {
    grpc: await send('grpc', grpc, compression),
    http: await send('http', http, compression),
  };
  const found = failures();
  for (const failure of found) {
    console.error(`export failed: ${failure}`);
  }
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify(sent)}\n`, resolve));
  return found.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error?.stack ?? error);
    process.exit(1);
  },
);
