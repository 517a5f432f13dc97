"""Readers of compiled files, never loading them: ELF headers, dynamic sections, symbol tables
and version needs (`elf`, `elfsym`, `elf_sections`), and what an extension module's file name
says (`extensions`)."""
