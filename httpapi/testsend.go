package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/sender"
	"github.com/hookd/hookd/tenant"
)

type testSendInput struct {
	EventType string          `json:"event_type"`
	Data      json.RawMessage `json:"data"`
}

// attemptResult is the outcome of one attempt made on request.
type attemptResult struct {
	Succeeded       bool    `json:"succeeded"`
	StatusCode      int     `json:"status_code"`
	DurationSeconds float64 `json:"duration_seconds"`
	Response        string  `json:"response"`
	Error           string  `json:"error"`
}

// testSend makes one signed delivery now, bypassing the rule, and answers
// with its outcome. It is not retried and not logged as a delivery.
func (a *API) testSend(w http.ResponseWriter, r *http.Request) {
	var in testSendInput
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, MaxEventBody, &in); err != nil {
			writeError(w, err)
			return
		}
	}
	if in.EventType == "" {
		in.EventType = "hookd.test"
	}
	if err := event.ValidateType(in.EventType); err != nil {
		writeError(w, fieldError("event_type", "%v", err))
		return
	}
	if len(in.Data) == 0 {
		in.Data = json.RawMessage(`{"message":"test delivery from hookd"}`)
	}
	ep, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ev := &event.Event{ID: event.NewID("evt_test"), Type: in.EventType, Subject: event.Subject(in.EventType), Time: time.Now().UTC(),
		Data: in.Data, Raw: in.Data, Tenant: tenant.Normalize(ep.Tenant)}
	// The endpoint's format, as its deliveries have it.
	p, renderErr := renderFor(ep)(ev)
	req, err := sender.BuildRequest(&endpoint.Compiled{Endpoint: ep}, ev.ID, p.Body, a.timeout, time.Now())
	if err != nil {
		writeError(w, fieldError("secret", "%v", err))
		return
	}
	req.ContentType, req.Rendered = p.ContentType, p.Headers
	if renderErr != nil {
		// Nothing is sent, as a delivery of this event would not be.
		out := attemptResult{Error: "not rendered in the endpoint's format: " + renderErr.Error()}
		a.log.Info("test delivery not rendered", "endpoint", ep.ID, "err", renderErr)
		writeJSON(w, http.StatusOK, out)
		return
	}
	resp, sendErr := a.sender.Send(r.Context(), req)
	out := attemptResult{
		Succeeded: sendErr == nil, StatusCode: resp.StatusCode, DurationSeconds: resp.Duration.Seconds(),
		Response: sender.Snippet(resp.Body),
	}
	if sendErr != nil {
		out.Error = sendErr.Error()
	}
	a.log.Info("test delivery", "endpoint", ep.ID, "status", resp.StatusCode, "succeeded", out.Succeeded)
	writeJSON(w, http.StatusOK, out)
}
