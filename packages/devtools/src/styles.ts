/** The panel's styles: inside its shadow root, so they neither leak into the page nor take the page's. */
export const PANEL_CSS = `
:host { all: initial; display: block; }
.panel {
  font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  color: #1f2328; background: #ffffff; border: 1px solid #d0d7de; border-radius: 6px;
  display: flex; flex-direction: column; height: 100%; min-height: 240px; box-sizing: border-box;
  overflow: hidden;
}
.floating { position: fixed; right: 12px; bottom: 12px; width: min(760px, calc(100vw - 24px));
  height: min(520px, calc(100vh - 24px)); z-index: 2147483000; box-shadow: 0 8px 24px rgba(0,0,0,.18); }
header { display: flex; align-items: center; gap: 8px; padding: 6px 8px; background: #24292f; color: #f6f8fa; }
header .title { font-weight: 700; }
header .meta { opacity: .8; flex: 1; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
header button { background: transparent; color: inherit; border: 1px solid #57606a; border-radius: 4px; cursor: pointer; font: inherit; }
nav { display: flex; gap: 2px; padding: 4px 6px 0; background: #f6f8fa; border-bottom: 1px solid #d0d7de; }
nav button { font: inherit; border: 1px solid transparent; border-bottom: none; background: transparent;
  padding: 4px 8px; border-radius: 4px 4px 0 0; cursor: pointer; color: #57606a; }
nav button[aria-selected="true"] { background: #ffffff; border-color: #d0d7de; color: #1f2328; font-weight: 700; margin-bottom: -1px; }
.body { flex: 1; overflow: auto; padding: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { color: #57606a; font-weight: 600; position: sticky; top: 0; background: #fff; }
code { font: inherit; }
td code, td.nowrap { white-space: nowrap; }
td.via { color: #57606a; }
td.value { overflow-wrap: anywhere; min-width: 8em; max-width: 18em; }
.empty { color: #57606a; font-style: italic; padding: 8px 0; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 11px; border: 1px solid currentColor; white-space: nowrap; }
.s-queued, .s-pending, .s-waiting, .s-connecting, .s-optimistic, .s-partial, .s-loading { color: #9a6700; }
.s-persisting, .s-persisted_awaiting_sync, .s-syncing { color: #0969da; }
.s-completed, .s-winner, .s-online, .s-ready, .s-complete { color: #1a7f37; }
.s-failed, .s-lost, .s-error, .s-offline, .s-disconnected { color: #cf222e; }
tr.winner td { background: #dafbe1; }
tr.lost td { color: #57606a; }
.why { margin: 6px 0 10px; padding: 6px 8px; border-left: 3px solid #1a7f37; background: #f6f8fa; }
.why.deleted { border-left-color: #cf222e; }
form { display: flex; gap: 4px; margin-bottom: 8px; flex-wrap: wrap; }
input { font: inherit; padding: 2px 4px; border: 1px solid #d0d7de; border-radius: 4px; width: 9em; }
form button, .fields button { font: inherit; cursor: pointer; border: 1px solid #d0d7de; background: #f6f8fa; border-radius: 4px; }
.fields { display: flex; flex-direction: column; gap: 2px; margin-bottom: 8px; max-height: 9em; overflow: auto; }
.fields button { text-align: left; }
.fields button[aria-current="true"] { border-color: #0969da; }
.competing { color: #cf222e; }
.path { color: #57606a; }
h3 { font-size: 12px; margin: 8px 0 4px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0 0 8px; }
dt { color: #57606a; }
dd { margin: 0; }
`;
