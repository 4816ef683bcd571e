"""The uncertainty a point's phasors can be expected to carry, before the bench is switched on.

The plan needs it to judge whether a systematic error (the scope's channel-to-channel crosstalk,
:mod:`procedures.measure.crosstalk_bias`) would matter: an error is only worth a calibration when it is a
visible fraction of the uncertainty the run will state anyway.

Model (docs/reference/measurement-methods.md §1.3, §2.1-2.3), one channel of amplitude ``A`` (V peak):

* auto-ranging puts the peak-to-peak swing on ``fill`` of the screen: ``scale = 2 A / (fill x divisions)``
  V/div, never below the most sensitive scale :data:`SCALE_MIN_V_PER_DIV`;
* an 8-bit ADC over :data:`DIVISIONS` divisions: ``LSB = scale x divisions / 256``; the scope's own noise
  :data:`NOISE_LSB` LSB rms plus quantisation ``LSB^2/12`` (§2.1);
* the board's output noise density ``e_n`` (board config ``[sim] noise_v_per_rthz``; 0 when not declared)
  over the smallest noise bandwidth a record of ``N`` points and ``periods`` periods can have, ``N f / (2
  periods)`` (the slowest sample rate that holds them);
* the sine fit reaches the Cramér-Rao bound: per-quadrature ``u = sigma sqrt(2/N)`` (§1.3), and ``repeats``
  records averaged divide it by ``sqrt(repeats)``.

Every choice errs toward a smaller ``u`` (the most sensitive scale of the supported scopes, the least noise
bandwidth, no generator noise), so a decision taken against it errs toward calibrating.
"""

from __future__ import annotations

import numpy as np

from procedures.config.procedure import AcquisitionSettings

DIVISIONS = 8                  # vertical divisions of the supported 8-bit scopes (instruments.scope.Oscilloscope)
CODES = 256                    # 8-bit ADC codes over those divisions
SCALE_MIN_V_PER_DIV = 0.5e-3   # the most sensitive scale the simulated InfiniiVision settles on (1 mV/div and
#                                below on the real ones): the smaller floor, for the smaller u
NOISE_LSB = 1.0                # scope input noise, LSB rms: the simulated bench's default ([sim] scope_noise_lsb)


def expected_phasor_u(amplitude_v: np.ndarray, frequency_hz: float, acq: AcquisitionSettings,
                      noise_v_per_rthz: np.ndarray | float = 0.0) -> np.ndarray:
    """Per-quadrature standard uncertainty (V) of the fitted phasor of channels of peak amplitude
    ``amplitude_v`` (V) at ``frequency_hz``, acquired as ``acq`` says; ``noise_v_per_rthz`` the white noise
    density (V/rtHz) on each channel's node (module docstring for the model and its sources)."""
    a = np.abs(np.asarray(amplitude_v, float))
    scale = np.maximum(2.0 * a / (acq.fill * DIVISIONS), SCALE_MIN_V_PER_DIV)
    lsb = scale * DIVISIONS / CODES
    n = float(acq.record_points)
    bandwidth_hz = n * frequency_hz / (2.0 * acq.min_periods)
    sigma2 = lsb**2 * (NOISE_LSB**2 + 1.0 / 12.0) + np.asarray(noise_v_per_rthz, float) ** 2 * bandwidth_hz
    out: np.ndarray = np.sqrt(sigma2 * 2.0 / n / acq.repeats)
    return out
