package blob

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
)

// MaxImageSide bounds each side of a picture, in pixels.
const MaxImageSide = 16384

// ErrImageSize marks a picture that parses but is too large.
var ErrImageSize = errors.New("image too large")

// CheckImage parses a picture's structure as far as it can without
// decoding its pixels: the header of its type (image.DecodeConfig, or
// the RIFF and VP8/VP8L/VP8X headers for WebP), its dimensions, and for
// PNG every chunk's length and CRC up to IEND, for WebP the RIFF length.
// So a file with the right magic bytes and anything after them is
// refused. Rejected: decoding the pixels (a 50-megapixel picture is 200
// MB of RGBA: the check would be the attack).
func CheckImage(typ string, data []byte, maxPixels int64) error {
	var cfg image.Config
	var err error
	switch typ {
	case "image/png":
		if err = checkPNGChunks(data); err == nil {
			cfg, err = png.DecodeConfig(bytes.NewReader(data))
		}
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "image/gif":
		cfg, err = gif.DecodeConfig(bytes.NewReader(data))
	case "image/webp":
		cfg, err = webpConfig(data)
	default:
		return fmt.Errorf("type %s is not accepted", typ)
	}
	if err != nil {
		return fmt.Errorf("not a valid %s: %v", strings.TrimPrefix(typ, "image/"), err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return fmt.Errorf("not a valid %s: %d×%d pixels", strings.TrimPrefix(typ, "image/"), cfg.Width, cfg.Height)
	}
	if cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || (maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > maxPixels) {
		return fmt.Errorf("%w: %d×%d pixels; at most %d on a side and %d in all", ErrImageSize, cfg.Width, cfg.Height, MaxImageSide, maxPixels)
	}
	return nil
}

// checkPNGChunks walks a PNG's chunks: each fits, has a valid CRC, and
// IEND ends the file.
func checkPNGChunks(data []byte) error {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return errors.New("no PNG signature")
	}
	b := data[len(sig):]
	for len(b) > 0 {
		if len(b) < 12 {
			return errors.New("truncated chunk")
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-12) {
			return errors.New("chunk longer than the file")
		}
		body := b[4 : 8+n]
		if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(b[8+n:]) {
			return fmt.Errorf("chunk %q: bad CRC", body[:4])
		}
		if string(body[:4]) == "IEND" {
			if len(b) != int(12+n) {
				return errors.New("bytes after IEND")
			}
			return nil
		}
		b = b[12+n:]
	}
	return errors.New("no IEND chunk")
}

// webpConfig reads a WebP's dimensions from its first chunk (VP8X, VP8L
// or VP8), after checking the RIFF header's length against the file's.
func webpConfig(d []byte) (image.Config, error) {
	var cfg image.Config
	if len(d) < 30 || string(d[:4]) != "RIFF" || string(d[8:12]) != "WEBP" {
		return cfg, errors.New("no RIFF WEBP header")
	}
	if riff := uint64(binary.LittleEndian.Uint32(d[4:])) + 8; riff != uint64(len(d)) && riff+1 != uint64(len(d)) {
		return cfg, fmt.Errorf("RIFF length %d, file %d bytes", riff, len(d))
	}
	chunk, body := string(d[12:16]), d[20:]
	if uint64(binary.LittleEndian.Uint32(d[16:])) > uint64(len(body)) {
		return cfg, errors.New("first chunk longer than the file")
	}
	u24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	switch chunk {
	case "VP8X":
		cfg.Width, cfg.Height = 1+u24(body[4:]), 1+u24(body[7:])
	case "VP8L":
		if body[0] != 0x2f {
			return cfg, errors.New("bad VP8L signature")
		}
		bits := binary.LittleEndian.Uint32(body[1:])
		cfg.Width, cfg.Height = 1+int(bits&0x3fff), 1+int(bits>>14&0x3fff)
	case "VP8 ":
		if body[3] != 0x9d || body[4] != 0x01 || body[5] != 0x2a {
			return cfg, errors.New("bad VP8 start code")
		}
		cfg.Width, cfg.Height = int(binary.LittleEndian.Uint16(body[6:])&0x3fff), int(binary.LittleEndian.Uint16(body[8:])&0x3fff)
	default:
		return cfg, fmt.Errorf("unknown first chunk %q", chunk)
	}
	return cfg, nil
}
