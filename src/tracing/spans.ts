// OpenTelemetry spans around what an operator traces: submit, route, run,
// move. swarmq depends on the OpenTelemetry API alone, whose tracer does
// nothing until the process registers an SDK, so tracing is off (and costs a
// no-op call) unless configured, e.g. with
// `NODE_OPTIONS='--import @opentelemetry/auto-instrumentations-node/register'`
// and the OTEL_* environment, or a TracerProvider registered in code.
import { INVALID_SPAN_CONTEXT, ProxyTracerProvider, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

export const tracer = trace.getTracer('swarmq');

/** Handed to `fn` while tracing is off: records nothing, like the API's own no-op span. */
const OFF = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a TracerProvider is registered now (it may be registered after import).
 * Without one, the API's no-op path still costs a span object, a context switch
 * and an async frame per call, measurable on the submit and run paths.
 */
function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER);
}

/** Runs `fn` inside a span (the active one, so spans started within are its children); a throw marks the span an error. */
export function traced<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!tracingOn()) return fn(OFF);
  return recorded(name, attributes, fn);
}

async function recorded<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return await tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}
