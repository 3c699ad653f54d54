// The sidebar's HTML page: a strict Content-Security-Policy (nothing by default; the one script
// by nonce, styles and the script only from the extension's own folder; no remote resources), and
// no inline handlers or styles — the script builds everything with DOM calls and `textContent`.

/** What the page needs from its host (VS Code's webview, or the browser test's server). */
export interface PageOptions {
  /** The origin the page's resources come from (`webview.cspSource`). */
  cspSource: string;
  /** A fresh random nonce for the script tag. */
  nonce: string;
  /** URL of dist/webview.js. */
  scriptUri: string;
  /** URL of media/webview.css. */
  styleUri: string;
}

/** The Content-Security-Policy of the sidebar. */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${cspSource}`,
    `font-src ${cspSource}`,
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-src 'none'",
  ].join("; ");
}

/** A nonce: 32 characters from a CSPRNG (`crypto.getRandomValues`). */
export function makeNonce(): string {
  const bytes = new Uint8Array(24);
  globalThis.crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

function attr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The page. */
export function sidebarHtml(options: PageOptions): string {
  const csp = contentSecurityPolicy(options.cspSource, options.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(options.styleUri)}">
<title>EdgeCoder</title>
</head>
<body>
<main id="app" aria-live="polite"></main>
<script nonce="${attr(options.nonce)}" src="${attr(options.scriptUri)}"></script>
</body>
</html>`;
}
