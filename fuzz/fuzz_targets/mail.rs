//! Any bytes, as an mbox: split, parse every mail, group them. Nothing may panic.
#![no_main]

use gauntlet_mail::ParseOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mails = gauntlet_mbox::split(data, gauntlet_mbox::Options::default());
    // The bytes as one mail, too (an MTA pipe).
    let mut parsed = vec![gauntlet_mail::parse(data, &ParseOptions::default())];
    parsed.extend(
        mails
            .iter()
            .map(|m| gauntlet_mail::parse(&m.bytes, &ParseOptions::default())),
    );
    let (mut index, _) = gauntlet_series::group(&parsed, 1, 0);
    let _ = index.take_changes();
});
