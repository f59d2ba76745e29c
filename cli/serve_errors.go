package cli

import (
	"errors"
	"fmt"

	"github.com/hookd/hookd/embedded"
)

// startError names the flag behind a start-up failure the user fixes with
// a flag: an address the embedded server cannot listen on.
func startError(err error) error {
	var le *embedded.ListenError
	if errors.As(err, &le) {
		flag := "--nats-listen"
		if le.Port == "cluster" {
			flag = "--cluster"
		}
		return fmt.Errorf("%s %s: %w", flag, le.Addr, err)
	}
	return err
}
