/**
 * Counters of the browser view (`tapnet ui`): what a browser sent that was
 * ignored, and what a slow browser missed. A name missing here does not
 * compile (core/stats.ts).
 */
export const UI_COUNTERS = [
  'uiConnections',
  'uiWsMalformed',
  'uiPacketsSkipped',
  'uiHttpRefused',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    ui: typeof UI_COUNTERS;
  }
}
