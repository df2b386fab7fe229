// Package waveform draws a call recording as a PNG picture, so that a person
// can see at a glance who spoke when, where the recording announcement
// played and where the recording paused.
//
// # The picture
//
// Each channel gets a panel, top to bottom: for stereo recordings the caller
// (left) above the callee (right), for mono the mixed signal. Every pixel
// column shows the minimum and maximum of the samples it covers in a light
// colour and their root mean square in a darker one, over a zero line and
// an amplitude axis labelled -1.0 to +1.0 of full scale. Below the panels a
// time axis is labelled in seconds at a step chosen from the duration (1, 2,
// 5, 10, 15, 30, 60 s …). [Span] values mark time ranges across every
// panel: [Guidance] as an amber band, [Pause] as a grey hatched band, with
// their labels above the first panel and a legend at the top right, next to
// the title, sample rate, channel layout and duration.
//
// The image is paletted with a dozen fixed colours, which keeps the file
// small (typically 10–30 KB) and lets tests check each pixel's meaning.
//
// # Use
//
// [RenderWAV] reads a 16-bit PCM WAV file such as the recorder writes and
// encodes its picture:
//
//	in, err := os.Open("call.wav")
//	…
//	out, err := os.Create("call.png")
//	…
//	err = waveform.RenderWAV(out, in, waveform.Options{
//		Title: "0077-27-03-1234-5678",
//		Spans: []waveform.Span{{Start: 0, End: 4 * time.Second, Label: "announcement", Kind: waveform.Guidance}},
//	})
//
// [Render] draws samples already in memory ([Audio]), [Draw] returns the
// [image.Paletted] instead of encoding it, and [DecodeWAV] only decodes.
// The zero [Options] gives a 1200 px wide picture, 260 px high per channel.
//
// # Errors
//
// An empty recording draws empty panels with their axes, not an error. A
// sample rate that is not positive or a bad channel count wraps
// [ErrInvalidAudio]; a bad size or span is an [*OptionsError] naming the
// field and wrapping [ErrInvalidOptions]; input that is not a 16-bit PCM WAV
// file wraps [ErrInvalidWAV]. Nothing is written to the output on error,
// except what the PNG encoder wrote before the writer itself failed.
//
// # Cost
//
// Drawing visits every sample once and allocates nothing per sample: the
// picture itself dominates memory (one byte per pixel). The functions keep no
// state and are safe for concurrent use.
package waveform
