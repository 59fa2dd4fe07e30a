"""The dynamic section of an ELF shared library: what it needs, what it is.

Enough to tell which OpenMP runtime a library was linked against when
several are mapped (a PyTorch build that ships its own ``libgomp`` beside
the system's, say): ``/proc/self/maps`` shows the files, and only their
``DT_NEEDED`` and ``DT_SONAME`` entries say which one the loader bound.
"""
import struct
from typing import List, NamedTuple, Optional

_SHT_DYNAMIC = 6
_DT_NULL, _DT_NEEDED, _DT_SONAME = 0, 1, 14


class DynamicSection(NamedTuple):
    #: The sonames the library needs, in order.
    needed: List[str]
    #: Its own soname, if it has one.
    soname: Optional[str]


def read_dynamic_section(path: str) -> DynamicSection:
    """``DT_NEEDED`` and ``DT_SONAME`` of a 64-bit little-endian ELF file;
    empty for any other file or one that cannot be read."""
    empty = DynamicSection([], None)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return empty
    if data[:6] != b'\x7fELF\x02\x01':  # ELFCLASS64, ELFDATA2LSB
        return empty
    try:
        shoff, = struct.unpack_from('<Q', data, 0x28)
        shentsize, shnum = struct.unpack_from('<HH', data, 0x3a)
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link,
        # sh_info, sh_addralign, sh_entsize
        sections = [
            struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize)
            for i in range(shnum)
        ]
        for _, kind, _, _, offset, size, link, _, _, _ in sections:
            if kind != _SHT_DYNAMIC:
                continue
            strings = sections[link][4]
            needed, soname = [], None
            for pos in range(offset, offset + size, 16):
                tag, value = struct.unpack_from('<qQ', data, pos)
                if tag == _DT_NULL:
                    break
                if tag in (_DT_NEEDED, _DT_SONAME):
                    start = strings + value
                    name = data[start:data.index(b'\0', start)].decode()
                    if tag == _DT_NEEDED:
                        needed.append(name)
                    else:
                        soname = name
            return DynamicSection(needed, soname)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        return empty
    return empty
