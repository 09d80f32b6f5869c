//! Clap types more than one command takes: the sector, the metadata source and the
//! registry pins.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use spid_sp::certificates::Sector;
use spid_sp::metadata::MetadataSource;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SectorArg {
    Public,
    Private,
}

impl From<SectorArg> for Sector {
    fn from(s: SectorArg) -> Sector {
        match s {
            SectorArg::Public => Sector::Public,
            SectorArg::Private => Sector::Private,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SourceArg {
    Spid,
    Cie,
    Eidas,
}

impl From<SourceArg> for MetadataSource {
    fn from(s: SourceArg) -> MetadataSource {
        match s {
            SourceArg::Spid => MetadataSource::SpidRegistry,
            SourceArg::Cie => MetadataSource::Cie,
            SourceArg::Eidas => MetadataSource::EidasNode,
        }
    }
}

#[derive(Args)]
pub(crate) struct PinArgs {
    /// PEM certificate(s) the SPID registry aggregate must be signed with (repeatable).
    #[arg(long = "spid-pin")]
    pub(crate) spid_pin: Vec<PathBuf>,
    /// PEM certificate(s) the eIDAS-node metadata must be signed with (repeatable).
    #[arg(long = "eidas-pin")]
    pub(crate) eidas_pin: Vec<PathBuf>,
    /// Also trust the pins of the snapshots committed in the repository (TESTS ONLY: the
    /// SPID one is AgID's test key, whose private key is public).
    #[arg(long)]
    pub(crate) snapshot_pins: bool,
}
