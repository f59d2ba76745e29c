// Command hookd delivers events as signed webhooks, on NATS JetStream.
package main

import (
	"os"

	"github.com/hookd/hookd/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, nil))
}
