// Package recordertest helps test code that records calls with
// [github.com/callrec/callrec/recorder]: it generates RTP packets of known
// tones, decodes the WAV files with an independent decoder
// (github.com/go-audio/wav), and checks each channel for a tone or for
// silence.
//
// # Generating calls
//
// [Tone] makes 20 ms PCMU or PCMA packets of a sine wave. Give each party
// its own frequency (the recorder's tests use 440 Hz for the caller and
// 1 kHz for the callee) and change the generator's fields between packets to
// simulate a sender's faults.
//
// # Checking recordings
//
// [Decode] or [ReadFile] give an [Audio]; [CheckTone] and [CheckSilent]
// judge a span of one channel with [Power] (the Goertzel algorithm) and
// [RMS]:
//
//	a, err := recordertest.ReadFile(res.Path)
//	require.NoError(t, err)
//	require.NoError(t, recordertest.CheckTone(a, 0, 0, 3*time.Second, 440, 1000))
//	require.NoError(t, recordertest.CheckSilent(a, 1, 0, 3*time.Second))
//
// # Outputs
//
// [File] is an in-memory output a recording can hash; [Discard] only
// counts, for benchmarks and hour-long calls.
package recordertest
