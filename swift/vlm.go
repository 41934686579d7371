package swift

import (
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/images"
	"github.com/goswift/goswift/swift/data/templates"
	"github.com/goswift/goswift/swift/infer"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/models/vlm"
	"github.com/goswift/goswift/swift/tokenizers"
	"github.com/goswift/goswift/swift/weights"
)

// loadVLM reads a LLaVA-style checkpoint directory into m (Config, Arch, Ctx, VLM).
func (m *Model) loadVLM(path string, opts LoadOptions) error {
	ck, err := vlm.Open(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	m.Format, m.VLM, m.Config = "hf-llava", ck.Config, ck.Config.Text
	m.Arch = vlm.New(ck.Config)
	return vlm.LoadVariables(m.Ctx, ck, opts.Weights)
}

// AddVision turns a loaded language model into a vision-language model: a vision tower of shape
// v and a projector to the model's hidden size, freshly initialised from seed (LLaVA's recipe
// starts from a pretrained tower; none can be had offline, so GoSwift trains it from scratch).
// imageTokenID is the placeholder id in the text vocabulary; mean and std normalise the pixels
// (nil: 0.5 for each channel). A llama2.c model (interleaved RoPE) is first turned into the
// Hugging Face rotate-half layout, which computes the same function, so what is trained and saved
// afterwards is a plain LLaVA checkpoint.
func (m *Model) AddVision(v vlm.VisionConfig, imageTokenID int, mean, std []float32, seed uint64) error {
	if m.VLM != nil {
		return errors.New("AddVision: the model already has a vision tower")
	}
	if len(m.tuners) > 0 {
		return errors.New("AddVision: attach tuners after adding the vision tower")
	}
	cfg, err := vlm.NewConfig(v, m.Config, imageTokenID, mean, std)
	if err != nil {
		return err
	}
	if err := models.ToHalfRoPE(m.Ctx, m.Config); err != nil {
		return errors.WithMessage(err, "AddVision")
	}
	if err := vlm.InitVision(m.Ctx, cfg, seed); err != nil {
		return err
	}
	m.VLM = cfg
	m.Arch.Vision = &vlm.Tower{Config: cfg}
	m.gen = infer.NewGenerator(m.Backend, m.Ctx, m.Arch) // graphs compiled before are stale
	return nil
}

// ImageSpec says how images are prepared for the model's vision tower.
func (m *Model) ImageSpec() (images.Spec, error) {
	if m.VLM == nil {
		return images.Spec{}, errors.Errorf("%s is not a vision-language model", m.Path)
	}
	v := m.VLM.Vision
	return images.Spec{Size: v.ImageSize, Channels: v.NumChannels, Mean: m.VLM.ImageMean, Std: m.VLM.ImageStd}, nil
}

// ImageTokens says how an image appears in the model's token sequence (zero for a text model):
// the templates.Options.Image of its prompts and training data.
func (m *Model) ImageTokens() templates.ImageTokens {
	if m.VLM == nil {
		return templates.ImageTokens{}
	}
	return templates.ImageTokens{TokenID: m.VLM.ImageTokenID, PerImage: m.VLM.Vision.NumPatches()}
}

// LoadImages reads and prepares a sample's images for the model; an unreadable image names the
// sample's dataset line and the file.
func (m *Model) LoadImages(s data.Sample) ([]data.Image, error) {
	if len(s.Images) == 0 {
		return nil, nil
	}
	spec, err := m.ImageSpec()
	if err != nil {
		return nil, err
	}
	out := make([]data.Image, len(s.Images))
	for i, p := range s.Images {
		if out[i], err = images.Load(p, spec); err != nil {
			where := s.Source
			if where == "" {
				where = "sample " + s.ID
			}
			return nil, errors.WithMessagef(err, "%s: image %d", where, i)
		}
	}
	return out, nil
}

// EncodeSamples renders and tokenizes samples for training with the template, loading the
// images of a vision-language model's samples into the examples. A text model refuses samples
// with images.
func (m *Model) EncodeSamples(t templates.Template, tok tokenizers.Tokenizer, samples []data.Sample, opts templates.Options) ([]data.Example, error) {
	opts.Image = m.ImageTokens()
	if m.VLM == nil {
		for _, s := range samples {
			if len(s.Images) > 0 {
				return nil, errors.Errorf("%s: the sample has images but %s is not a vision-language model", s.Source, m.Path)
			}
		}
	}
	exs, err := templates.EncodeSamples(t, tok, samples, opts)
	if err != nil || m.VLM == nil {
		return exs, err
	}
	for i, s := range samples {
		if exs[i].Images, err = m.LoadImages(s); err != nil {
			return nil, err
		}
	}
	return exs, nil
}

// saveVLM writes a vision-language model in Hugging Face LLaVA layout (config.json,
// model.safetensors, preprocessor_config.json).
func (m *Model) saveVLM(dir string, dtype weights.DType) error {
	return vlm.Save(dir, m.Ctx, m.VLM, dtype)
}

// ImageBatch loads the images of each sample into one [B, K, C, H, W] batch for generation
// (nil when none has images).
func (m *Model) ImageBatch(samples []data.Sample) (*data.ImageBatch, error) {
	per := make([][]data.Image, len(samples))
	for i, s := range samples {
		ims, err := m.LoadImages(s)
		if err != nil {
			return nil, err
		}
		per[i] = ims
	}
	return data.StackImages(per)
}
