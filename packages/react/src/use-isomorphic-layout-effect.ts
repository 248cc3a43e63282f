/** `useLayoutEffect` in the browser, `useEffect` on the server (where neither runs). */
import { useEffect, useLayoutEffect } from 'react';

/** @internal */
export const useIsomorphicLayoutEffect = typeof document !== 'undefined' ? useLayoutEffect : useEffect;
