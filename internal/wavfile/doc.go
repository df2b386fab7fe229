// Package wavfile reads the header of a RIFF/WAVE file for the packages
// that read WAV audio (recorder, guidance, internal/waveform), so that they
// share one reader and one meaning of [ErrInvalidWAV].
//
// The fmt chunk's fields are decoded by github.com/go-audio/wav. The chunks
// themselves are walked here rather than by wav.Decoder, because the
// decoder (v1.1.0), given a malformed file:
//
//   - allocates the declared size of the fmt chunk, and of every sub-chunk
//     of a LIST/INFO chunk, before reading it: 4 GiB for a lying 32-bit
//     size field in a file of a few bytes;
//   - ignores a chunk size cut short by the end of the file, so that a
//     truncated header reads as an empty chunk rather than an error;
//   - accepts a data chunk before the fmt chunk, and no fmt chunk at all;
//   - discards the WAVE_FORMAT_EXTENSIBLE sub-format, which says whether
//     the samples are integer PCM.
//
// The data chunk's declared size is reported as found and not checked
// against the file's length: a recording whose writer was killed has sizes
// that were never patched, a streaming writer leaves 0xFFFFFFFF, and each
// caller decides what it accepts.
package wavfile
