// The call page's player: stereo playback through Web Audio, so that each
// party's channel (caller left, callee right) can be muted or soloed, and
// a playback speed selector. Without Web Audio the <audio> element still
// plays both channels.
(function () {
  "use strict";
  var audio = document.getElementById("audio");
  if (!audio) return;
  var state = { mute: [false, false], solo: -1 };
  var ctx = null;
  var gains = [];

  // setup builds the graph on first use: a media element source can be
  // created only once, and an AudioContext should start on a user gesture.
  function setup() {
    if (ctx || !(window.AudioContext || window.webkitAudioContext)) return;
    ctx = new (window.AudioContext || window.webkitAudioContext)();
    var src = ctx.createMediaElementSource(audio);
    var split = ctx.createChannelSplitter(2);
    var merge = ctx.createChannelMerger(2);
    src.connect(split);
    for (var ch = 0; ch < 2; ch++) {
      var g = ctx.createGain();
      split.connect(g, ch);
      g.connect(merge, 0, ch);
      gains.push(g);
    }
    merge.connect(ctx.destination);
    apply();
  }

  function gainOf(ch) {
    if (state.solo >= 0) return state.solo === ch ? 1 : 0;
    return state.mute[ch] ? 0 : 1;
  }

  function apply() {
    for (var ch = 0; ch < gains.length; ch++) gains[ch].gain.value = gainOf(ch);
    document.querySelectorAll("button.mute").forEach(function (b) {
      b.setAttribute("aria-pressed", String(state.mute[+b.dataset.ch]));
    });
    document.querySelectorAll("button.solo").forEach(function (b) {
      b.setAttribute("aria-pressed", String(state.solo === +b.dataset.ch));
    });
  }

  document.querySelectorAll("button.mute").forEach(function (b) {
    b.addEventListener("click", function () {
      setup();
      var ch = +b.dataset.ch;
      state.mute[ch] = !state.mute[ch];
      apply();
    });
  });
  document.querySelectorAll("button.solo").forEach(function (b) {
    b.addEventListener("click", function () {
      setup();
      var ch = +b.dataset.ch;
      state.solo = state.solo === ch ? -1 : ch;
      apply();
    });
  });
  audio.addEventListener("play", function () {
    setup();
    if (ctx && ctx.state === "suspended") ctx.resume();
  });
  var speed = document.getElementById("speed");
  if (speed) {
    speed.addEventListener("change", function () {
      audio.playbackRate = parseFloat(speed.value);
    });
  }
  // For tests and for the curious: the effective gain of each channel.
  window.callrecPlayer = {
    gains: function () { return [0, 1].map(gainOf); },
    graphGains: function () { return gains.map(function (g) { return g.gain.value; }); }
  };
})();
