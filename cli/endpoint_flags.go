package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// endpointFlags are the fields of create and update.
type endpointFlags struct {
	url, name, description, filter, timeout, secret string
	retrySchedule, profile, ordering, orderingKey   string
	signing, batchMaxWait, batchField               string
	format, transform, sampleEvent                  string
	maxAttempts, maxInFlight, batchMaxEvents        int
	noBatch                                         bool
	rateLimit                                       float64
	events                                          stringList
	headers, metadata                               pairMap
	disabled                                        bool
}

func (f *endpointFlags) register(fs *flag.FlagSet) {
	f.headers = pairMap{sep: ":", form: "'Name: value'"}
	f.metadata = pairMap{sep: "=", form: "key=value"}
	fs.StringVar(&f.url, "url", "", "URL that receives the deliveries (http or https)")
	fs.StringVar(&f.name, "name", "", "name, for people")
	fs.StringVar(&f.description, "description", "", "description, for people")
	fs.Var(&f.events, "event", "event type pattern, e.g. billing.* or billing.> (repeatable; none: every type; '' clears)")
	fs.StringVar(&f.filter, "filter", "", "expr expression over the event, e.g. 'data.amount > 100'")
	fs.Var(&f.headers, "header", "header sent with every delivery, 'Name: value'; a value may be a template, 'Authorization: Bearer {{ data.token }}' (repeatable; '' clears)")
	fs.StringVar(&f.timeout, "timeout", "", "timeout of one attempt, e.g. 30s ('' is the server's default)")
	fs.StringVar(&f.retrySchedule, "retry-schedule", "", "this endpoint's delays before each retry, e.g. 1s,30s,5m ('' is the server's)")
	fs.StringVar(&f.profile, "profile", "", "response handling: standard or langsmith (5s timeout, 5xx retried twice, 4xx never, body unread)")
	fs.StringVar(&f.format, "format", "", "what the endpoint receives: standard, raw, envelope, slack, discord, teams or transform (docs/payloads.md)")
	fs.StringVar(&f.transform, "transform", "", "with --format transform: expr expression building the body, or @file holding it, e.g. '{\"title\": data.name}'")
	fs.StringVar(&f.sampleEvent, "sample-event", "", `file holding the event the transform and header templates are checked against, {"type":...,"data":...,"headers":{...}}`)
	fs.StringVar(&f.ordering, "ordering", "", "none (parallel) or ordered (in acceptance order, a failing delivery holding back the rest; create only)")
	fs.StringVar(&f.orderingKey, "ordering-key", "", "with --ordering ordered: expr key, e.g. data.order_id; equal keys in order, others in parallel (create only)")
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, "deliveries per second to this endpoint across all workers (0: none)")
	fs.IntVar(&f.maxInFlight, "max-in-flight", 0, "deliveries out at once to this endpoint across all workers (0: no cap)")
	fs.IntVar(&f.batchMaxEvents, "batch-max-events", 0, "send matched events in batches of up to this many, 1 to 1000 (default with any --batch-* flag: 100)")
	fs.StringVar(&f.batchMaxWait, "batch-max-wait", "", "send a batch this long after its first event, 1s to 15m (default with any --batch-* flag: 10s)")
	fs.StringVar(&f.batchField, "batch-field", "", "name of the list of events in a batch body, e.g. runs (default with any --batch-* flag: events)")
	fs.BoolVar(&f.noBatch, "no-batch", false, "send events one by one again (update)")
	fs.IntVar(&f.maxAttempts, "max-attempts", 0, "this endpoint's maximum attempts, the first included (0: the schedule decides)")
	fs.Var(&f.metadata, "metadata", "label, key=value (repeatable; '' clears)")
	fs.BoolVar(&f.disabled, "disabled", false, "hold deliveries until enabled (--disabled=false enables)")
	fs.StringVar(&f.secret, "secret", "", "signing secret, whsec_... or an ed25519 whsk_... (create only; default: generated)")
	fs.StringVar(&f.signing, "signing", "", "hmac-sha256 (shared secret, v1; default) or ed25519 (public key, v1a) (create only; rotate-secret switches)")
}

// body returns the fields given on the command line, and only those.
func (f *endpointFlags) body(fs *flag.FlagSet) (map[string]any, error) {
	body := map[string]any{}
	var err error
	if given(fs, "retry-schedule") || given(fs, "max-attempts") {
		// The API replaces the policy whole: both parts are sent.
		schedule := []string{}
		for _, step := range strings.Split(f.retrySchedule, ",") {
			if step = strings.TrimSpace(step); step != "" {
				if _, derr := durationArg("retry-schedule", step); derr != nil {
					return nil, derr
				}
				schedule = append(schedule, step)
			}
		}
		body["retry"] = map[string]any{"schedule": schedule, "max_attempts": f.maxAttempts}
	}
	if batch, berr := f.batch(fs); berr != nil {
		return nil, berr
	} else if batch != nil {
		body["batch"] = batch
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "url":
			body["url"] = f.url
		case "name":
			body["name"] = f.name
		case "description":
			body["description"] = f.description
		case "event":
			body["events"] = []string(f.events)
		case "filter":
			body["filter"] = f.filter
		case "header":
			body["headers"] = f.headers.m
		case "timeout":
			if f.timeout != "" {
				if _, derr := durationArg("timeout", f.timeout); derr != nil {
					err = derr
				}
			}
			body["timeout"] = f.timeout
		case "metadata":
			body["metadata"] = f.metadata.m
		case "disabled":
			body["enabled"] = !f.disabled
		case "secret":
			body["secret"] = f.secret
		case "signing":
			body["signing"] = f.signing
		case "profile":
			body["profile"] = f.profile
		case "format":
			body["format"] = f.format
		case "transform":
			src := f.transform
			if name, ok := strings.CutPrefix(src, "@"); ok {
				b, rerr := os.ReadFile(name)
				if rerr != nil {
					err = &usageError{fmt.Errorf("--transform: %w", rerr)}
				}
				src = strings.TrimSpace(string(b))
			}
			body["transform"] = src
		case "sample-event":
			ev, ferr := jsonObjectFile("sample-event", f.sampleEvent)
			if ferr != nil {
				err = ferr
			}
			body["sample_event"] = ev
		case "ordering":
			body["ordering"] = f.ordering
		case "ordering-key":
			body["ordering_key"] = f.orderingKey
		case "max-in-flight":
			body["max_in_flight"] = f.maxInFlight
		case "rate-limit":
			body["rate_limit"] = f.rateLimit
		}
	})
	return body, err
}

// batch returns the batch object of the --batch-* flags given (the API
// keeps the fields not sent), nil for none, or null for --no-batch.
func (f *endpointFlags) batch(fs *flag.FlagSet) (any, error) {
	on := given(fs, "batch-max-events") || given(fs, "batch-max-wait") || given(fs, "batch-field")
	if f.noBatch {
		if on {
			return nil, &usageError{errors.New("--no-batch and --batch-* flags contradict each other")}
		}
		return json.RawMessage("null"), nil
	}
	if !on {
		return nil, nil
	}
	batch := map[string]any{}
	if given(fs, "batch-max-events") {
		batch["max_events"] = f.batchMaxEvents
	}
	if given(fs, "batch-max-wait") {
		if _, err := durationArg("batch-max-wait", f.batchMaxWait); err != nil {
			return nil, err
		}
		batch["max_wait"] = f.batchMaxWait
	}
	if given(fs, "batch-field") {
		batch["field"] = f.batchField
	}
	return batch, nil
}
