// Package uitest drives the web editor in a real Chromium against a real
// `sluice dev`: typing, completion, diagnostics and quick fixes, preview
// and apply. It holds only tests.
package uitest
