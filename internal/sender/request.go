package sender

import (
	"time"

	"github.com/hookd/hookd/endpoint"
)

// BuildRequest builds the signed request of one attempt to ep, with a JSON
// body (the caller sets another content type and rendered headers):
// every secret of ep still in its grace period at now signs
// (endpoint.Compiled.SigningKeys: parsed once per endpoint version), its
// headers go along; timeout applies when the endpoint sets none. An
// unusable secret is a *PermanentError.
func BuildRequest(ep *endpoint.Compiled, messageID string, body []byte, timeout time.Duration, now time.Time) (Request, error) {
	keys, err := ep.SigningKeys(now)
	if err != nil {
		return Request{}, &PermanentError{Err: err}
	}
	p := ep.Policy(nil, timeout)
	return Request{URL: ep.URL, MessageID: messageID, Body: body, Keys: keys, Headers: ep.Headers, Timeout: p.Timeout,
		SkipBody: !p.ReadBody, NoThrottleRetry: !p.RetryThrottled}, nil
}
