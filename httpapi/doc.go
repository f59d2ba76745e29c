// Package httpapi owns hookd's HTTP API under /v1: endpoint management and
// event ingestion, JSON in and out, with errors that name the bad field.
package httpapi
