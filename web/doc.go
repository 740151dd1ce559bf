// Package web serves the Sluice HTTP API, websocket previews and tails, and
// the embedded SQL editor. It drives the planner and the runtime; the
// connectors are wired in by cmd/sluice, never imported here.
package web
