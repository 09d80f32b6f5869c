#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| spid_sp::fuzzing::reader(data));
