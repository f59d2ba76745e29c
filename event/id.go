package event

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strconv"
	"sync"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new random, time-ordered identifier with the given prefix,
// e.g. NewID("evt") = "evt_01j9...". The first 48 bits are the millisecond
// time, so ids sort by creation; ids made by one process in the same
// millisecond (a bulk creation makes thousands) still sort in the order
// they were made: the random part of the later one is the earlier's plus
// one, as monotonic ULIDs do.
func NewID(prefix string) string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	lastID.Lock()
	if ms <= lastID.ms {
		ms = lastID.ms // never back: the clock may step
		b = lastID.b
		for i := 15; i >= 6; i-- {
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	} else {
		_, _ = rand.Read(b[6:])
	}
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	lastID.ms, lastID.b = ms, b
	lastID.Unlock()
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// lastID is the newest id NewID made.
var lastID struct {
	sync.Mutex
	ms uint64
	b  [16]byte
}

// SequenceID derives the id of an event published without a Nats-Msg-Id:
// deterministic in the events stream's creation time and the message's
// sequence, so every router (and every redelivery) derives the same id.
func SequenceID(streamCreated time.Time, seq uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(streamCreated.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], seq)
	sum := sha256.Sum256(b[:])
	return "evt_" + strconv.FormatUint(seq, 10) + "_" + idEncoding.EncodeToString(sum[:10])
}
