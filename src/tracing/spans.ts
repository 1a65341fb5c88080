// OpenTelemetry spans around what an operator traces: submit, route, run,
// move. swarmq depends on the OpenTelemetry API alone, whose tracer does
// nothing until the process registers an SDK, so tracing is off (and costs a
// no-op call) unless configured, e.g. with
// `NODE_OPTIONS='--import @opentelemetry/auto-instrumentations-node/register'`
// and the OTEL_* environment, or a TracerProvider registered in code.
import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

export const tracer = trace.getTracer('swarmq');

/** Runs `fn` inside a span (the active one, so spans started within are its children); a throw marks the span an error. */
export async function traced<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
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
