package endpoint

import "time"

// Delivery profiles: ready-made response handling an endpoint can select.
const (
	// ProfileStandard (also "") is hookd's handling: see the README.
	ProfileStandard = "standard"
	// ProfileLangSmith follows LangSmith's automation webhooks: a 5 s
	// timeout, connection failures retried twice, 5xx retried twice with
	// exponential backoff, 4xx never retried, the response body never read.
	ProfileLangSmith = "langsmith"
)

// langSmithSchedule is two retries with exponential backoff.
var langSmithSchedule = []time.Duration{time.Second, 2 * time.Second}

// Policy is how deliveries to an endpoint are made, from its profile and
// settings over the server's defaults.
type Policy struct {
	// Schedule is the delay before each retry.
	Schedule []time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// RetryThrottled retries 408 and 429 answers.
	RetryThrottled bool
	// ReadBody reads (the first 64 KiB of) the response body.
	ReadBody bool
}

// Policy returns the endpoint's delivery policy given the server's default
// schedule and timeout. Explicit settings (retry, timeout) win over the
// profile's.
func (e *Endpoint) Policy(defSchedule []time.Duration, defTimeout time.Duration) Policy {
	p := Policy{Schedule: defSchedule, Timeout: defTimeout, RetryThrottled: true, ReadBody: true}
	if e.Profile == ProfileLangSmith {
		p = Policy{Schedule: langSmithSchedule, Timeout: 5 * time.Second}
	}
	p.Schedule = e.Retry.Effective(p.Schedule)
	if e.Timeout > 0 {
		p.Timeout = e.Timeout
	}
	return p
}
