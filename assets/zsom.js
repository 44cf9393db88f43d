/* ZSOM dashboard, browser side: hexagon tiling, timeline playback, debounced settings,
 * and the composed PNG export. Loaded by Dash from assets/; Plotly is the global one that
 * Dash serves from plotly's package (no CDN).
 *
 * Every id and constant comes from Python (components/client.py): the clientside
 * callbacks get the client config as State; the document's listeners read data-
 * attributes on the elements they work on. Nothing of Plotly or Dash is replaced. */
(function () {
    "use strict";

    function hexTraceIndices(gd, hex) {
        var indices = [];
        (gd.data || []).forEach(function (trace, i) {
            if (trace && trace.meta === hex.meta) { indices.push(i); }
        });
        return indices;
    }

    /* The marker size (pixels) that tiles a graph's map at its current scale, or null
     * while the graph has no map drawn. */
    function fittedHexSize(gd, hex) {
        var full = gd._fullLayout;
        if (!full || !full.xaxis || !full.xaxis._length || !hexTraceIndices(gd, hex).length) { return null; }
        var range = full.xaxis.range;
        return full.xaxis._length / Math.abs(range[1] - range[0]) * hex.size_per_unit + hex.overlap_px;
    }

    function staleHexTraces(gd, hex, size) {
        return hexTraceIndices(gd, hex).filter(function (i) {
            var marker = gd.data[i].marker || {};
            return typeof marker.size !== "number" || Math.abs(marker.size - size) > hex.tolerance_px;
        });
    }

    /* On screen the fitted size is written into the graph's figure prop, where Dash keeps
     * the figure: each epoch's patch from the server then leaves it there and draws the
     * map once, already at the right size. It changes only when the map's scale does (the
     * first draw, a resize, a new grid), and then costs one more draw. (Plotly.restyle
     * would reach the figure prop only as far as Plotly happens to share objects with it.) */
    function keepHexTiling(gd, hex) {
        var size = fittedHexSize(gd, hex);
        if (size === null) { return; }
        var stale = staleHexTraces(gd, hex, size);
        var asked = gd.__zsomHexAsked;
        // Asked already for this figure: Dash's redraw is on its way.
        if (!stale.length || (asked && asked.data === gd.data && Math.abs(asked.size - size) <= hex.tolerance_px)) {
            return;
        }
        var graphId = gd.parentElement && gd.parentElement.id;  // dcc.Graph's container
        if (!graphId) { return; }
        gd.__zsomHexAsked = {data: gd.data, size: size};
        var patch = new window.dash_clientside.Patch();
        stale.forEach(function (i) { patch.assign(["data", i, "marker", "size"], size); });
        window.dash_clientside.set_props(graphId, {figure: patch.build()});
    }

    function hookGraph(gd) {
        if (gd.__zsomHooked || typeof gd.on !== "function") { return; }
        var holder = gd.closest("[data-hex-tiling]");
        if (!holder) { return; }
        var hex = JSON.parse(holder.getAttribute("data-hex-tiling"));
        gd.__zsomHooked = true;
        gd.on("plotly_afterplot", function () { keepHexTiling(gd, hex); });
        keepHexTiling(gd, hex);  // its first draw may be over before the observer saw it
    }

    /* Plotly marks a graph's div with this class when it first draws there (dcc.Graph
     * mounts the div empty), so class changes are where new graphs show up. */
    new MutationObserver(function (records) {
        records.forEach(function (record) {
            var target = record.target;
            if (target.classList && target.classList.contains("js-plotly-plot")) { hookGraph(target); }
        });
    }).observe(document.documentElement, {subtree: true, attributes: true, attributeFilter: ["class"]});
    document.querySelectorAll(".js-plotly-plot").forEach(hookGraph);

    // A slider's value box commits on blur; let Enter commit it too, as people expect.
    document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && event.target.classList && event.target.classList.contains("dash-range-slider-input")) {
            event.target.blur();
        }
    });

    /* The upload's size limit, checked before the browser reads the file. dcc.Upload drops
     * an oversized file without a word; this says why, next to the upload. Listeners on
     * the document's capture phase run before React's, so the file is never read. */
    function refuseOversizedFile(event, files) {
        var holder = event.target && event.target.closest && event.target.closest("[data-max-bytes]");
        if (!holder || !files || !files.length) { return; }
        var limit = Number(holder.getAttribute("data-max-bytes"));
        var file = files[0];
        if (!limit || file.size <= limit) { return; }
        event.preventDefault();
        event.stopPropagation();
        if (event.target.value) { event.target.value = ""; }
        var mb = function (bytes) { return (bytes / 1048576).toFixed(1) + " MB"; };
        window.dash_clientside.set_props(holder.getAttribute("data-message-id"), {
            children: {type: "Span", namespace: "dash_html_components", props: {
                className: "error",
                children: file.name.slice(0, 80) + ": the file is " + mb(file.size) + ", larger than the limit of " +
                    mb(limit) + ". Simplify or decimate the mesh and try again."}}
        });
    }
    document.addEventListener("change", function (event) {
        if (event.target && event.target.type === "file") { refuseOversizedFile(event, event.target.files); }
    }, true);
    document.addEventListener("drop", function (event) {
        refuseOversizedFile(event, event.dataTransfer && event.dataTransfer.files);
    }, true);

    /* A slider's own number box clamps a typed value into the slider's range without a
     * word (learning rate 5 becomes 1). The range is what the server accepts, so the value
     * is right; this says what happened, under the slider, until the next value typed. */
    function noteClampedValue(input) {
        var container = input.closest(".dash-slider-container");
        var row = container && container.parentElement;
        if (!row) { return; }
        var note = row.querySelector(".field-note");
        var typed = parseFloat(input.value), low = parseFloat(input.min), high = parseFloat(input.max);
        var clamped = isNaN(typed) ? null : typed < low ? low : typed > high ? high : null;
        if (clamped === null) {
            if (note) { note.remove(); }
            return;
        }
        if (!note) {
            note = document.createElement("div");
            note.className = "field-note";
            note.setAttribute("role", "status");
            container.after(note);
        }
        var label = row.querySelector(".field-label");
        note.textContent = (label ? label.textContent : "The value") + " goes from " + low + " to " + high +
            ": " + input.value + " was set to " + clamped + ".";
    }
    function isSliderBox(target) {
        return target && target.type === "number" && target.closest && target.closest(".dash-slider-container");
    }
    document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && isSliderBox(event.target)) { noteClampedValue(event.target); }
    }, true);
    document.addEventListener("focusout", function (event) {
        if (isSliderBox(event.target)) { noteClampedValue(event.target); }
    }, true);

    /* Names and roles that Dash's controls do not give themselves, for screen readers and
     * the keyboard. Each control's holder names its label (data-control-label, see
     * components/layout.py): a slider's handle and value box, a dropdown's button and an
     * upload's file input are labelled by it. Radio items and checklists, which Dash marks
     * up as a listbox of options around native inputs, become a radio group (or a group)
     * of native inputs, the ones Tab, the arrow keys and Space work on; a checklist shown
     * as a switch (class "switch") says so. A dropdown's hidden focus relay, which hands
     * focus on to its button, is left out in favour of the button itself. */
    function setAttributeOnce(element, name, value) {
        if (element.getAttribute(name) !== value) { element.setAttribute(name, value); }
    }

    function labelControls(holder) {
        var label = holder.getAttribute("data-control-label");
        holder.querySelectorAll("[role=slider], input.dash-range-slider-input, input[type=file], .dash-radioitems")
            .forEach(function (element) { setAttributeOnce(element, "aria-labelledby", label); });
        holder.querySelectorAll(".dash-dropdown-wrapper").forEach(function (wrapper) {
            var relay = wrapper.querySelector(".dash-dropdown-focus-target");
            var button = wrapper.querySelector("button.dash-dropdown");
            if (relay) { setAttributeOnce(relay, "inert", ""); }
            if (!button) { return; }
            setAttributeOnce(button, "tabindex", "0");
            var names = (button.getAttribute("aria-labelledby") || "").split(" ").filter(function (name) {
                return name && name !== label;
            });
            setAttributeOnce(button, "aria-labelledby", [label].concat(names).join(" "));
        });
    }

    function groupOptions(list) {
        setAttributeOnce(list, "role", list.classList.contains("dash-radioitems") ? "radiogroup" : "group");
        list.querySelectorAll(".dash-options-list-option").forEach(function (option) {
            if (option.hasAttribute("role")) { option.removeAttribute("role"); }
            if (option.hasAttribute("aria-selected")) { option.removeAttribute("aria-selected"); }
        });
        if (list.classList.contains("switch")) {
            list.querySelectorAll("input[type=checkbox]").forEach(function (input) {
                setAttributeOnce(input, "role", "switch");
            });
        }
    }

    function makeControlsAccessible() {
        document.querySelectorAll("[data-control-label]").forEach(labelControls);
        document.querySelectorAll(".dash-radioitems, .dash-checklist").forEach(groupOptions);
    }

    // Again after whatever Dash renders outside the graphs (an option's aria-selected comes
    // back with each choice); attributes are only written where they differ, so this settles.
    new MutationObserver(function (records) {
        var outsideGraphs = records.some(function (record) {
            return !(record.target.closest && record.target.closest(".js-plotly-plot"));
        });
        if (outsideGraphs) { makeControlsAccessible(); }
    }).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                          attributeFilter: ["aria-selected"]});
    makeControlsAccessible();

    function graphDiv(id) {
        var container = document.getElementById(id);
        if (!container) { return null; }
        return container.classList.contains("js-plotly-plot") ? container : container.querySelector(".js-plotly-plot");
    }

    /* A PNG data URL of one panel rendered at width x height CSS pixels: the panel is drawn
     * again off screen at that size (so hexagons tile at that size too), then exported. */
    function renderPanel(gd, width, height, scale, hex) {
        var holder = document.createElement("div");
        holder.style.cssText = "position:fixed;left:-30000px;top:0;width:" + width + "px;height:" + height + "px;";
        document.body.appendChild(holder);
        // Traces share their arrays with the live graph; marker objects are copied because
        // resizing hexagons for the export must not touch the graph on screen.
        var data = gd.data.map(function (trace) {
            var copy = Object.assign({}, trace);
            if (trace.marker) { copy.marker = Object.assign({}, trace.marker); }
            return copy;
        });
        var layout = JSON.parse(JSON.stringify(gd.layout));
        layout.width = width;
        layout.height = height;
        layout.autosize = false;
        var Plotly = window.Plotly;
        return Plotly.newPlot(holder, data, layout, {staticPlot: true, displayModeBar: false})
            .then(function () {
                // No Dash component holds this copy: its hexagons are resized in place.
                var size = fittedHexSize(holder, hex);
                var stale = size === null ? [] : staleHexTraces(holder, hex, size);
                return stale.length ? Plotly.restyle(holder, {"marker.size": size}, stale) : null;
            })
            .then(function () { return Plotly.toImage(holder, {format: "png", width: width, height: height, scale: scale}); })
            .finally(function () { Plotly.purge(holder); holder.remove(); });
    }

    function loadImage(url) {
        return new Promise(function (resolve, reject) {
            var image = new Image();
            image.onload = function () { resolve(image); };
            image.onerror = function () { reject(new Error("a panel could not be rendered")); };
            image.src = url;
        });
    }

    function statusText(id) {
        var status = document.getElementById(id);
        return status ? status.innerText.replace(/\s+/g, " ").trim() : "";
    }

    function downloadCanvas(canvas, filename) {
        return new Promise(function (resolve, reject) {
            canvas.toBlob(function (blob) {
                if (!blob) { reject(new Error("the figure could not be encoded")); return; }
                var url = URL.createObjectURL(blob);
                var link = document.createElement("a");
                link.href = url;
                link.download = filename;
                document.body.appendChild(link);
                link.click();
                link.remove();
                setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
                resolve();
            }, "image/png");
        });
    }

    function safeName(text) {
        return String(text || "data").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "data";
    }

    /* All panels of the chosen epoch as one PNG, laid out by the server's export spec. */
    function composeFigure(view, spec, config) {
        var header = config.export_header;
        var tileW = spec.tile[0], tileH = spec.tile[1], scale = spec.scale;
        var canvas = document.createElement("canvas");
        canvas.width = spec.columns * tileW * scale;
        canvas.height = (spec.header + spec.rows * tileH) * scale;
        var context = canvas.getContext("2d");
        context.fillStyle = header.background;
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.fillStyle = header.title_color;
        context.font = "600 " + (header.title_size * scale) + "px " + header.font;
        context.textBaseline = "middle";
        var title = "ZSOM: " + (view.label || "data") + (view.epoch ? ", epoch " + view.epoch : "");
        context.fillText(title, 16 * scale, spec.header * scale * 0.34);
        context.fillStyle = header.text_color;
        context.font = (header.text_size * scale) + "px " + header.font;
        context.fillText(statusText(config.ids.status), 16 * scale, spec.header * scale * 0.74, canvas.width - 32 * scale);

        // One panel after the other: each off-screen WebGL scene is freed before the next.
        return spec.cells.reduce(function (previous, cell) {
            return previous.then(function () {
                var gd = graphDiv(cell.panel);
                if (!gd || !gd.data) { return null; }
                var width = tileW * cell.span;
                return renderPanel(gd, width, tileH, scale, config.hex).then(loadImage).then(function (image) {
                    context.drawImage(image, cell.column * tileW * scale, (spec.header + cell.row * tileH) * scale,
                                      width * scale, tileH * scale);
                });
            });
        }, Promise.resolve()).then(function () {
            var name = "zsom-" + safeName(view.label) + (view.epoch ? "-epoch-" + view.epoch : "") + ".png";
            return downloadCanvas(canvas, name).then(function () { return name; });
        });
    }

    var settingsToken = 0;
    // The timeline player: when it started, from and to which epoch, and the step it sent last.
    var player = {started: 0, from: 1, to: 1, sent: null, sentAt: 0};
    // The page's poll of the server (see callbacks/run_page.py): the answer counted last,
    // when it arrived, when the last poll went out, and whether its answer is awaited.
    var poll = {seq: null, answeredAt: 0, sentAt: 0, awaiting: false};

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.zsom = {
        play: function (_clicks, _ticks, value, max, stopped, config) {
            var noUpdate = window.dash_clientside.no_update;
            var trigger = window.dash_clientside.callback_context.triggered_id;
            var now = Date.now();
            value = value || 1;
            max = max || 1;
            if (trigger === config.ids.play) {
                if (!stopped || max <= 1) { return [noUpdate, true, "\u25B6"]; }
                var from = value >= max ? 1 : value;
                player = {started: now, from: from, to: max, sent: from, sentAt: now};
                return [value >= max ? 1 : noUpdate, false, "\u275A\u275A"];
            }
            if (value >= player.to) { return [noUpdate, true, "\u25B6"]; }
            if (value !== player.sent && now - player.sentAt < config.play_retry_ms) { return [noUpdate, false, noUpdate]; }
            var share = Math.min(1, (now - player.started) / config.play_duration_ms);
            var target = Math.max(value + 1, Math.round(player.from + share * (player.to - player.from)));
            player.sent = Math.min(player.to, target);
            player.sentAt = now;
            return [player.sent, false, noUpdate];
        },

        /* Whether the page's poll of the server is due: poll_ms after the last answer,
         * or retry_ms after a request whose answer never came. A request the page sends
         * for another reason (a click, a setting, a timeline move, not the server's own
         * echo of the timeline or the run menu) postpones the poll until its answer, so
         * that Dash, which keeps only the newest of overlapping calls, does not drop it. */
        pacePoll: function () {
            var context = window.dash_clientside.callback_context;
            var inputs = context.inputs_list;
            var view = arguments[arguments.length - 1] || {};
            var now = Date.now();
            var fired = {};
            context.triggered.forEach(function (item) { fired[item.prop_id] = true; });
            var firedAt = function (i) { return fired[inputs[i].id + "." + inputs[i].property]; };
            if (view.seq !== poll.seq) {
                poll.seq = view.seq;
                poll.answeredAt = now;
                poll.awaiting = false;
            }
            var last = inputs.length - 1;
            var echo = (firedAt(last - 1) && inputs[last - 1].value === Math.max(view.epoch || 0, 1)) ||
                       (firedAt(last) && inputs[last].value === view.run);
            var asked = false;
            for (var i = 1; i <= last; i++) { asked = asked || Boolean(firedAt(i)); }
            if (asked && !echo) {
                poll.awaiting = true;
                poll.sentAt = now;
            }
            if (!firedAt(0)) { return window.dash_clientside.no_update; }
            var due = poll.awaiting ? now - poll.sentAt >= (view.retry_ms || 5000)
                                    : now - poll.answeredAt >= (view.poll_ms || 1000);
            if (!due) { return window.dash_clientside.no_update; }
            poll.awaiting = true;
            poll.sentAt = now;
            return now;
        },

        // The settings' values, then the client config.
        debounceSettings: function () {
            var config = arguments[arguments.length - 1];
            var token = ++settingsToken;
            return new Promise(function (resolve) {
                setTimeout(function () {
                    resolve(token === settingsToken ? Date.now() : window.dash_clientside.no_update);
                }, config.debounce_ms);
            });
        },

        exportFigure: function (_clicks, view, spec, config) {
            if (!window.Plotly || !spec || !config) { return "export is not available"; }
            return composeFigure(view || {}, spec, config).then(function (name) {
                return "Saved " + name;
            }, function (error) {
                return "Export failed: " + error.message;
            });
        }
    };
})();
