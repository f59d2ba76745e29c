// Package dashboard owns hookd's web dashboard: the HTML, CSS and
// JavaScript embedded in the binary, and the handler that serves them at /
// (assets under /ui/) with a strict Content-Security-Policy. The pages are
// public and hold no data: every figure comes from the /v1 API, called by
// the browser with the API key the person signs in with, kept in
// sessionStorage. No build step: plain files, no framework.
package dashboard
