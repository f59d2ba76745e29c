package sender

import (
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/signing"
)

// BuildRequest builds the signed request of one attempt to ep, with a JSON
// body (the caller sets another content type and rendered headers):
// every secret of ep still in its grace period at now signs, its headers
// go along; timeout applies when the endpoint sets none. An unusable
// secret is a *PermanentError.
func BuildRequest(ep *endpoint.Endpoint, messageID string, body []byte, timeout time.Duration, now time.Time) (Request, error) {
	var keys []signing.Key
	for _, s := range ep.SigningSecrets(now) {
		k, err := signing.ParseKey(s)
		if err != nil {
			return Request{}, &PermanentError{Err: err}
		}
		keys = append(keys, k)
	}
	p := ep.Policy(nil, timeout)
	return Request{URL: ep.URL, MessageID: messageID, Body: body, Keys: keys, Headers: ep.Headers, Timeout: p.Timeout,
		SkipBody: !p.ReadBody, NoThrottleRetry: !p.RetryThrottled}, nil
}
