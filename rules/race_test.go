//go:build race

package rules

// raceEnabled: the race detector slows expr's VM down about twentyfold.
const raceEnabled = true
