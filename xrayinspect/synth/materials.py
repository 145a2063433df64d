"""Linear attenuation coefficients of the materials in a board X-ray scene.

Values are linear attenuation coefficients mu (1/mm) at an effective photon
energy of 60 keV, typical of the beam after filtration for a 100-130 kVp
microfocus tube used in automated X-ray inspection. They are computed as
mass attenuation coefficient (mu/rho, total with coherent scattering) x
density, with mu/rho read from the NIST XCOM / "X-Ray Mass Attenuation
Coefficients" tables:

    J. H. Hubbell and S. M. Seltzer, Tables of X-Ray Mass Attenuation
    Coefficients and Mass Energy-Absorption Coefficients, NIST Standard
    Reference Database 126 (NISTIR 5632), 1995/2004.
    M. J. Berger et al., XCOM: Photon Cross Sections Database, NIST Standard
    Reference Database 8.

========  ===============  ===========  ==================  ==========
material  composition      rho (g/cm3)  mu/rho at 60 keV    mu (1/mm)
========  ===============  ===========  ==================  ==========
SAC305    Sn96.5Ag3Cu0.5   7.38         7.0 cm2/g (Sn 6.9,  5.17
                                        Ag 5.8 above its K
                                        edge at 25.5 keV)
copper    Cu               8.96         1.59 cm2/g          1.42
gold      Au (wire bonds)  19.3         3.1 cm2/g           5.98
silicon   Si (die)         2.33         0.32 cm2/g          0.075
FR4       glass-epoxy      1.85         0.30 cm2/g (mix of  0.056
                                        SiO2, epoxy, Br)
mould     silica-filled    1.95         0.28 cm2/g          0.055
          epoxy
ceramic   BaTiO3 MLCC /    5.9          5.0 cm2/g (Ba K     2.95
          ferrite body                  edge 37.4 keV)
========  ===============  ===========  ==================  ==========

The figures are rounded to two digits; the simulator's claims rest on the
ratios between them (solder attenuates ~3.6x copper, ~90x FR4), which the
rounding does not change.
"""

#: Linear attenuation coefficient at 60 keV effective energy, 1/mm.
MU_PER_MM = {
    "solder": 5.17,
    "copper": 1.42,
    "gold": 5.98,
    "silicon": 0.075,
    "fr4": 0.056,
    "mould": 0.055,
    "ceramic": 2.95,
}

#: Material order used by the renderer's per-material path-length stacks.
MATERIALS = tuple(MU_PER_MM)
