/**
 * OpenTelemetry spans through `@opentelemetry/api` only: with no SDK registered in the
 * process every span is the API's no-op, so the server never depends on an SDK. An app that
 * registers one (a TracerProvider with an exporter, and a context manager for parent links)
 * sees `omnisync.push`, `omnisync.pull`, `omnisync.snapshot`, `omnisync.fanout` and
 * `omnisync.storage.read|write` spans, nested.
 */
import { type Attributes, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';

/** Names of the spans the server makes. */
export type SpanName =
  | 'omnisync.push'
  | 'omnisync.pull'
  | 'omnisync.snapshot'
  | 'omnisync.fanout'
  | 'omnisync.storage.read'
  | 'omnisync.storage.write';

/** Starts the server's spans (or, when off, just runs the work). */
export interface ServerTracing {
  /** Run `fn` inside an active span (ended when its promise settles; a throw marks it failed). */
  span<T>(name: SpanName, attributes: Attributes, fn: () => Promise<T>): Promise<T>;
  /** The same for synchronous work. */
  spanSync<T>(name: SpanName, attributes: Attributes, fn: () => T): T;
}

const TRACER_NAME = '@omnisync/server';

function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  const code = (err as { code?: unknown } | null)?.code;
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' });
}

/**
 * Create the tracing of one server. `enabled: false` skips the API entirely.
 * @example
 * const tracing = createServerTracing(true);
 * await tracing.span('omnisync.push', { 'omnisync.app': app }, () => engine.push(app, auth, req));
 */
export function createServerTracing(enabled: boolean): ServerTracing {
  if (!enabled) return { span: (_n, _a, fn) => fn(), spanSync: (_n, _a, fn) => fn() };
  // A ProxyTracer: it picks up a provider registered after the server was created.
  const tracer: Tracer = trace.getTracer(TRACER_NAME);
  return {
    span(name, attributes, fn) {
      return tracer.startActiveSpan(name, { attributes }, async (span) => {
        try {
          return await fn();
        } catch (err) {
          failed(span, err);
          throw err;
        } finally {
          span.end();
        }
      });
    },
    spanSync(name, attributes, fn) {
      return tracer.startActiveSpan(name, { attributes }, (span) => {
        try {
          return fn();
        } catch (err) {
          failed(span, err);
          throw err;
        } finally {
          span.end();
        }
      });
    },
  };
}
