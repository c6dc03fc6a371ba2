//! Any bytes, as one mail, through git mailinfo with every option combination. No panic.
#![no_main]

use gauntlet_mailinfo::{Options, QuotedCr, mailinfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mail)) = data.split_first() else {
        return;
    };
    let options = Options {
        utf8: flags & 1 == 0,
        keep_subject: flags & 2 != 0,
        keep_non_patch: flags & 4 != 0,
        scissors: flags & 8 != 0,
        inbody_headers: flags & 16 == 0,
        message_id: flags & 32 != 0,
        quoted_cr: match flags >> 6 {
            0 => QuotedCr::NoWarn,
            1 => QuotedCr::Warn,
            _ => QuotedCr::Strip,
        },
    };
    let info = mailinfo(mail, &options);
    let _ = info.info_text();
});
