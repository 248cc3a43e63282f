/** Entry point: render the app inside the OmniSync provider. */
import { OmniSyncProvider } from '@omnisync/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { client, state } from './omnisync.js';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <OmniSyncProvider client={client} state={state}>
      <App />
    </OmniSyncProvider>
  </StrictMode>,
);

// The app shell is cached by a service worker so the app opens offline (production builds only).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker
    .register('/sw.js')
    .catch((err: unknown) => console.warn('service worker not registered', err));
}
