// admission.k8s.io/v1 AdmissionReview decoding and response building, after
// controller-runtime's pkg/webhook/admission (http.go, response.go): every
// valid review gets an AdmissionReview back carrying the request's uid.
import type { MutationResult, PodAdmissionRequest } from './mutate.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

export interface AdmissionRequest extends PodAdmissionRequest {
  uid: string;
  name?: string;
  namespace?: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

export type DecodedReview = { ok: true; request: AdmissionRequest } | { ok: false; error: string };

/** A JSON object (not null, not an array); shared with mutate.ts, which may import this pure module. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the envelope; the error text goes back to the caller as the 400 body. */
export function decodeReview(body: unknown): DecodedReview {
  if (!isObject(body)) return { ok: false, error: 'body is not a JSON object' };
  if (body.apiVersion !== ADMISSION_API_VERSION || body.kind !== ADMISSION_KIND) {
    return {
      ok: false,
      error: `expected apiVersion ${ADMISSION_API_VERSION} kind ${ADMISSION_KIND}, got apiVersion ${JSON.stringify(body.apiVersion)} kind ${JSON.stringify(body.kind)}`,
    };
  }
  const request = body.request;
  if (!isObject(request)) return { ok: false, error: 'AdmissionReview has no request' };
  if (typeof request.uid !== 'string' || request.uid === '')
    return { ok: false, error: 'AdmissionReview request has no uid' };
  return { ok: true, request: request as unknown as AdmissionRequest };
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** The AdmissionReview answering a decision. */
export function decisionReview(uid: string, result: MutationResult): AdmissionReviewResponse {
  switch (result.kind) {
    case 'skip':
      return review({ uid, allowed: true });
    case 'denied':
      // controller-runtime's Denied: 403 Forbidden with the reason as the message.
      return review({
        uid,
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message: result.message },
      });
    case 'patch':
      if (result.ops.length === 0) return review({ uid, allowed: true });
      return review({
        uid,
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(result.ops)).toString('base64'),
      });
  }
}

/** controller-runtime's Errored(500): the webhook failed, the API server applies the failurePolicy. */
export function erroredReview(uid: string, message: string): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code: 500, message } });
}
