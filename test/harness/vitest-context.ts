// What the e2e global setup hands to test files through vitest's provide/inject.
declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the cluster the e2e run uses. */
    kubeconfig: string;
  }
}

export {};
