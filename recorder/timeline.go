package recorder

import "time"

// The timeline of a call counts frames (8 kHz sample instants) from the
// recording's start. Arrival times map onto it directly; RTP timestamps map
// onto it through each leg's rtpClock, which is anchored to the arrival time
// of the leg's first packet and re-anchored on discontinuities.

// frameDuration is the duration of one frame on the timeline.
const frameDuration = time.Second / SampleRate

// framesOf converts a duration to whole frames, rounding toward minus
// infinity so that an arrival just before the start is before frame 0.
func framesOf(d time.Duration) int64 {
	f := int64(d / frameDuration)
	if d < 0 && d%frameDuration != 0 {
		f--
	}
	return f
}

// durationOf converts frames to a duration.
func durationOf(frames int64) time.Duration { return time.Duration(frames) * frameDuration }

// Re-anchoring rules (see rtpClock and Leg.place).
const (
	// resyncJump is how far behind its arrival a packet's RTP position may
	// fall before its timestamp is taken to have jumped back (a sender
	// restart, a splice, a corrupt timestamp): the leg re-anchors at once
	// instead of dropping the rest of the stream as late. Ahead of the
	// arrival, the limit is the jitter window.
	resyncJump = 1 * SampleRate // 1 s in frames
	// resyncRun is how many consecutive in-order packets must be too late
	// to play, or behind their arrival by more than half the window, before
	// the leg re-anchors. One such packet is jitter; a run is a sender clock
	// running slow, a longer network delay or a stall.
	resyncRun = 3
)

// rtpClock maps one leg's RTP timestamps onto the timeline.
type rtpClock struct {
	hi     int64 // extended (unwrapped) timestamp of the newest in-order packet
	offset int64 // timeline frame = extended timestamp + offset
}

// anchor makes ts play at frame pos from now on.
func (c *rtpClock) anchor(ts uint32, pos int64) {
	c.hi = int64(ts)
	c.offset = pos - int64(ts)
}

// extend unwraps ts relative to the newest in-order timestamp.
func (c *rtpClock) extend(ts uint32) int64 {
	return c.hi + int64(int32(ts-uint32(c.hi)))
}

// position returns the timeline frame of ts.
func (c *rtpClock) position(ts uint32) int64 { return c.extend(ts) + c.offset }

// advance records ts as the newest in-order timestamp.
func (c *rtpClock) advance(ts uint32) { c.hi = c.extend(ts) }

// span is an interval of timeline frames [start, end); end < 0 while open.
type span struct{ start, end int64 }

func (s span) contains(pos int64) bool {
	return pos >= s.start && (s.end < 0 || pos < s.end)
}

// mixer holds the frames of the timeline that may still change: one ring
// of samples per side covering [flushed, flushed+size). Frames before
// flushed have been emitted to the output and are final.
//
// The ring is sized to what the jitter window needs rather than rounded up
// to a power of two: it is most of a live recording's memory, and the
// modulo it costs is paid a few times per packet, not per sample.
type mixer struct {
	ring    [2][]int16 // per Side; both halves of one allocation
	n       int64      // frames in each ring
	flushed int64      // first frame not yet emitted
	now     int64      // latest arrival seen, in frames
	end     int64      // end of the latest audio placed
}

func newMixer(frames int64) mixer {
	buf := make([]int16, 2*frames)
	return mixer{ring: [2][]int16{buf[:frames:frames], buf[frames:]}, n: frames}
}

func (m *mixer) size() int64 { return m.n }

// slot returns the ring index of frame pos; frames before 0 are never in
// the ring (flushed starts at 0), so pos is not negative.
func (m *mixer) slot(pos int64) int64 { return pos % m.n }

// contiguous returns how many frames from pos onward are contiguous in the
// ring, at most n.
func (m *mixer) contiguous(pos, n int64) int64 {
	return min(n, m.n-m.slot(pos))
}

// samples returns side's ring slice for n contiguous frames from pos.
func (m *mixer) samples(side Side, pos, n int64) []int16 {
	i := m.slot(pos)
	return m.ring[side][i : i+n]
}
