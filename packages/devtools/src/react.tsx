/**
 * `<OmniSyncDevtools client={client} />`: the devtools panel as a React component, a thin
 * skin over {@link mountDevtools} (mounted into its own element, unmounted with it). React is
 * an optional peer of this package: only this subpath needs it.
 */
import type { Client } from '@omnisync/client';
import { type CSSProperties, useEffect, useRef } from 'react';
import { type DevtoolsOptions, type DevtoolsTab, mountDevtools } from './mount.js';

/** Props of {@link OmniSyncDevtools}. */
export interface OmniSyncDevtoolsProps {
  /** The client to inspect. */
  readonly client: Client;
  /** The tab shown first (default `transactions`). */
  readonly tab?: DevtoolsTab;
  /** Start recording writes on mount (default true; see {@link DevtoolsOptions.record}). */
  readonly record?: DevtoolsOptions['record'];
  /** Show a close button that calls this. */
  readonly onClose?: () => void;
  /** Class and style of the element holding the panel (give it a height). */
  readonly className?: string;
  readonly style?: CSSProperties;
}

/**
 * The devtools panel for `client`, rendered where the component is.
 * @example
 * const Devtools = lazy(() => import('@omnisync/devtools/react').then((m) => ({ default: m.OmniSyncDevtools })));
 * {open && <Suspense fallback={null}><Devtools client={client} style={{ height: 400 }} /></Suspense>}
 */
export function OmniSyncDevtools(props: OmniSyncDevtoolsProps) {
  const ref = useRef<HTMLDivElement>(null);
  const { client, tab, record } = props;
  // The latest onClose, without remounting the panel when a parent passes a new closure.
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;
  const hasClose = props.onClose !== undefined;
  useEffect(() => {
    const handle = mountDevtools(client, ref.current!, {
      ...(tab !== undefined ? { tab } : {}),
      ...(record !== undefined ? { record } : {}),
      ...(hasClose ? { onClose: () => onClose.current?.() } : {}),
    });
    return () => handle.unmount();
    // `tab` and `record` are read at mount only (the panel keeps its own tab afterwards).
  }, [client, hasClose]);
  return <div ref={ref} className={props.className} style={props.style} data-omnisync-devtools="react" />;
}
