package diloco

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ProtocolAllReduce is the libp2p stream protocol of the ring all-reduce.
// Each stream carries one lane of one round from a peer to its right-hand
// neighbour in the ring. Wire format (all integers little-endian):
//
//	sender -> receiver: hello (helloSize bytes)
//	  magic "OPAR" | version u8 = 1 | mode u8 (0 fp32, 1 int8) | lane u16 |
//	  lanes u16 | rank u16 (sender's) | n u16 (group size) | round [32]byte |
//	  elems u64 (vector length) | chunkElems u32
//	receiver -> sender: ack u8 (0 ok, 1 unknown round, 2 parameters differ)
//	sender -> receiver: 2(n-1)*chunks frames, each
//	  frameHeader (frameHeaderSize bytes): round tag u32 (first 4 bytes of
//	  round) | seq u32 | phase u16 (0..2n-3) | 0 u16 | chunk u32 | len u32,
//	  then len payload bytes: fp32 values, or an int8 chunk (see quantize).
//
// The receiver knows exactly which frame comes next and how long it is, and
// rejects anything else (ErrProtocol).
const ProtocolAllReduce = "/openpool/diloco/allreduce/1.0.0"

const (
	helloSize       = 4 + 1 + 1 + 2 + 2 + 2 + 2 + 32 + 8 + 4
	frameHeaderSize = 4 + 4 + 2 + 2 + 4 + 4
	wireVersion     = 1

	ackOK         = 0
	ackUnknown    = 1
	ackMismatch   = 2
	maxGroupSize  = 1 << 12
	maxLanes      = 64
	maxChunkElems = 1 << 24
	minChunkElems = 1
	helloMagic    = "OPAR"
)

// Mode selects the wire encoding of the all-reduce.
type Mode uint8

const (
	// Float32 sends raw float32 values: the result is the exact mean up to
	// float32 rounding of the ring's summation order.
	Float32 Mode = 0
	// Int8 sends int8 chunks (see the package doc for the error bound).
	Int8 Mode = 1
)

func (m Mode) String() string {
	switch m {
	case Float32:
		return "fp32"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ErrProtocol marks a peer that broke the wire protocol (malformed, wrong
// round, wrong sequence, wrong length, non-finite values). Callers drop such
// a peer from later attempts.
var ErrProtocol = errors.New("diloco: protocol violation")

type hello struct {
	mode       Mode
	lane       uint16
	lanes      uint16
	rank       uint16
	n          uint16
	round      [32]byte
	elems      uint64
	chunkElems uint32
}

func (h hello) marshal() []byte {
	b := make([]byte, helloSize)
	copy(b, helloMagic)
	b[4] = wireVersion
	b[5] = byte(h.mode)
	binary.LittleEndian.PutUint16(b[6:], h.lane)
	binary.LittleEndian.PutUint16(b[8:], h.lanes)
	binary.LittleEndian.PutUint16(b[10:], h.rank)
	binary.LittleEndian.PutUint16(b[12:], h.n)
	copy(b[14:46], h.round[:])
	binary.LittleEndian.PutUint64(b[46:], h.elems)
	binary.LittleEndian.PutUint32(b[54:], h.chunkElems)
	return b
}

func readHello(r io.Reader) (hello, error) {
	var b [helloSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return hello{}, fmt.Errorf("read hello: %w", err)
	}
	return parseHello(b[:])
}

func parseHello(b []byte) (hello, error) {
	if len(b) != helloSize || string(b[:4]) != helloMagic {
		return hello{}, fmt.Errorf("%w: bad hello magic", ErrProtocol)
	}
	if b[4] != wireVersion {
		return hello{}, fmt.Errorf("%w: hello version %d, want %d", ErrProtocol, b[4], wireVersion)
	}
	h := hello{
		mode:       Mode(b[5]),
		lane:       binary.LittleEndian.Uint16(b[6:]),
		lanes:      binary.LittleEndian.Uint16(b[8:]),
		rank:       binary.LittleEndian.Uint16(b[10:]),
		n:          binary.LittleEndian.Uint16(b[12:]),
		elems:      binary.LittleEndian.Uint64(b[46:]),
		chunkElems: binary.LittleEndian.Uint32(b[54:]),
	}
	copy(h.round[:], b[14:46])
	switch {
	case h.mode != Float32 && h.mode != Int8:
		return h, fmt.Errorf("%w: hello mode %d", ErrProtocol, h.mode)
	case h.lanes == 0 || h.lanes > maxLanes || h.lane >= h.lanes:
		return h, fmt.Errorf("%w: hello lane %d of %d", ErrProtocol, h.lane, h.lanes)
	case h.n < 2 || h.n > maxGroupSize || h.rank >= h.n:
		return h, fmt.Errorf("%w: hello rank %d of %d", ErrProtocol, h.rank, h.n)
	case h.chunkElems < minChunkElems || h.chunkElems > maxChunkElems:
		return h, fmt.Errorf("%w: hello chunk size %d", ErrProtocol, h.chunkElems)
	}
	return h, nil
}

type frameHeader struct {
	tag   uint32
	seq   uint32
	phase uint16
	chunk uint32
	n     uint32
}

func (f *frameHeader) put(b []byte) {
	binary.LittleEndian.PutUint32(b, f.tag)
	binary.LittleEndian.PutUint32(b[4:], f.seq)
	binary.LittleEndian.PutUint16(b[8:], f.phase)
	binary.LittleEndian.PutUint16(b[10:], 0)
	binary.LittleEndian.PutUint32(b[12:], f.chunk)
	binary.LittleEndian.PutUint32(b[16:], f.n)
}

func parseFrameHeader(b []byte) (frameHeader, uint16) {
	return frameHeader{
		tag:   binary.LittleEndian.Uint32(b),
		seq:   binary.LittleEndian.Uint32(b[4:]),
		phase: binary.LittleEndian.Uint16(b[8:]),
		chunk: binary.LittleEndian.Uint32(b[12:]),
		n:     binary.LittleEndian.Uint32(b[16:]),
	}, binary.LittleEndian.Uint16(b[10:])
}
