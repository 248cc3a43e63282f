/**
 * A minimal error boundary: a failed query (or any render error below it) shows `fallback`
 * instead of unmounting the app. Any error boundary works; this one is for convenience.
 */
import { Component, type ErrorInfo, type ReactNode } from 'react';

/** Props of {@link OmniErrorBoundary}. */
export interface OmniErrorBoundaryProps {
  /** What to show instead of the children: a node, or a function of the error and a reset. */
  readonly fallback: ReactNode | ((error: Error, reset: () => void) => ReactNode);
  readonly onError?: (error: Error, info: ErrorInfo) => void;
  readonly children?: ReactNode;
}

/** Catches errors thrown while rendering its children (e.g. a live query that failed). */
export class OmniErrorBoundary extends Component<OmniErrorBoundaryProps, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: Error } {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    this.props.onError?.(error, info);
  }

  /** Render the children again (after the cause is fixed). */
  reset = (): void => this.setState({ error: null });

  override render(): ReactNode {
    const { error } = this.state;
    if (error === null) return this.props.children;
    const f = this.props.fallback;
    return typeof f === 'function' ? f(error, this.reset) : f;
  }
}
